"""What the LMS exports read: each student's points from the gradebook (nbgrader's API).

A cell's points are its manual score where a grader gave one, else its automatic score
(nbgrader's own rule, so a manual grade always wins and is never lost); a notebook's
late penalty (nbgrader's ``LateSubmissionPlugin``) is taken off the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.instructor.errors import CourseToolError
from tools.instructor.scores import open_assignment
from tools.instructor.settings import ASSIGNMENT, TOOL_COMMAND


@dataclass
class StudentGrade:
    """One student's points: ``auto`` (automatic points no grader overrode), ``manual``
    (points a grader gave, extra credit included), ``penalty`` (late), ``by_notebook``
    (notebook -> points before the penalty), ``needs_manual`` (notebooks still to grade)."""

    student: str
    auto: float = 0.0
    manual: float = 0.0
    penalty: float = 0.0
    by_notebook: dict[str, float] = field(default_factory=dict)
    needs_manual: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return max(0.0, self.auto + self.manual - self.penalty)


@dataclass
class ClassGrades:
    """Every graded student's :class:`StudentGrade`, the notebooks and the points possible."""

    notebooks: list[str]
    max_score: float
    students: list[StudentGrade]


def read_grades(course_root: Path) -> ClassGrades:
    """The class's points, read from the gradebook.

    Raises CourseToolError when there is no gradebook or nothing graded.
    """
    advice = f"no graded submissions of {ASSIGNMENT!r} in the gradebook; run `{TOOL_COMMAND} autograde` first"
    with open_assignment(course_root, advice) as assignment:
        notebooks = sorted(nb.name for nb in assignment.notebooks)
        out = ClassGrades(notebooks, float(assignment.max_score), [])
        for sub in sorted(assignment.submissions, key=lambda s: s.student_id):
            row = StudentGrade(sub.student_id)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.manual_score is not None:
                        row.manual += float(grade.manual_score)
                    elif grade.auto_score is not None:
                        row.auto += float(grade.auto_score)
                    row.manual += float(grade.extra_credit or 0.0)
                row.penalty += float(nb.late_submission_penalty or 0.0)
                row.by_notebook[nb.name] = float(nb.score)
                if nb.needs_manual_grade:
                    row.needs_manual.append(nb.name)
            out.students.append(row)
    if not out.students:
        raise CourseToolError(advice)
    return out
