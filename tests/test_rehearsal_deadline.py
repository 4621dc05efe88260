"""The rehearsal's second build is skipped, with the reason, only when a deadline leaves too little time."""

from tests.rehearsal.deadline import DEADLINE, REBUILD_BUDGET, time_left_problem


def test_no_deadline_or_enough_time_runs_the_second_build():
    assert time_left_problem(1_000.0, None) is None
    assert time_left_problem(1_000.0, "") is None
    assert time_left_problem(1_000.0, str(1_000 + REBUILD_BUDGET)) is None


def test_too_little_time_says_how_much_is_left_and_how_to_run_it_alone():
    problem = time_left_problem(1_000.0, str(1_000 + 10 * 60))
    assert problem is not None
    assert problem.startswith(f"10 minutes are left before {DEADLINE}")
    assert "python -m pytest -m 'rehearsal and reproducible' tests/rehearsal" in problem


def test_a_deadline_already_past_counts_as_no_time_left():
    problem = time_left_problem(5_000.0, "1000")
    assert problem is not None and problem.startswith("0 minutes are left")
