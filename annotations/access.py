"""Who may do what. Services enforce these rules; templates and the API ask them.

Lookups of objects by id are scoped in selectors.py (a non-member gets 404,
never 403, so ids of other projects leak nothing). The functions here answer
for members: which role may read or write which annotation set.
"""

from __future__ import annotations

from typing import Any

from annotations.exceptions import NotAllowed, ReadOnlySet
from annotations.models import AnnotationSet, Membership, Project, Role, SetState

_ROLE_CACHE_ATTRIBUTE = "_claimbench_roles"


def role_in(user: Any, project: Project) -> str | None:
    """The user's role in the project, or None for a non-member. Cached on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cache: dict[int, str | None] = user.__dict__.setdefault(_ROLE_CACHE_ATTRIBUTE, {})
    if project.pk not in cache:
        cache[project.pk] = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    return cache[project.pk]


def remember_role(user: Any, project_id: int, role: str | None) -> None:
    """Prime the per-request role cache with a role a selector read alongside the object,
    so the check that follows (and the service's check under the lock) asks no query."""
    if user is None or not user.is_authenticated or not user.is_active:
        return
    user.__dict__.setdefault(_ROLE_CACHE_ATTRIBUTE, {})[project_id] = role


def forget_roles(user: Any) -> None:
    """Drop the cached roles (after a membership change within one request)."""
    user.__dict__.pop(_ROLE_CACHE_ATTRIBUTE, None)


def is_member(user: Any, project: Project) -> bool:
    return role_in(user, project) is not None


def can_review(user: Any, project: Project) -> bool:
    return role_in(user, project) in (Role.REVIEWER, Role.MANAGER)


def can_manage(user: Any, project: Project) -> bool:
    return role_in(user, project) == Role.MANAGER


def can_view_set(user: Any, annotation_set: AnnotationSet) -> bool:
    """Analysts see their own sets; in blind mode nobody else's; gold once their own set is submitted."""
    project = annotation_set.document.project
    role = role_in(user, project)
    if role is None:
        return False
    if role in (Role.REVIEWER, Role.MANAGER):
        return True
    if annotation_set.is_gold:
        return AnnotationSet.objects.filter(
            document_id=annotation_set.document_id, annotator=user, state=SetState.SUBMITTED
        ).exists()
    return annotation_set.annotator_id == user.pk or not project.blind_mode


def edit_refusal(user: Any, annotation_set: AnnotationSet) -> NotAllowed | None:
    """Why the user may not write to this set, or None when they may."""
    project = annotation_set.document.project
    role = role_in(user, project)
    if role is None:
        return NotAllowed("You are not a member of this project.")
    if annotation_set.is_gold:
        if role not in (Role.REVIEWER, Role.MANAGER):
            return NotAllowed("Only reviewers and managers edit the gold version.")
        if annotation_set.state == SetState.ADJUDICATED:
            return ReadOnlySet("The gold version is finished; reopen it to change it.")
        return None
    if annotation_set.annotator_id != user.pk:
        return NotAllowed("Analysts write only their own annotation sets.")
    if annotation_set.withdrawn_at is not None:
        return ReadOnlySet("A manager took this document off your queue; your work on it is kept, read-only.")
    if annotation_set.state == SetState.SUBMITTED:
        return ReadOnlySet("This set is submitted and read-only until a reviewer or manager reopens it.")
    return None


def can_edit_set(user: Any, annotation_set: AnnotationSet) -> bool:
    return edit_refusal(user, annotation_set) is None


def require_can_edit_set(user: Any, annotation_set: AnnotationSet) -> None:
    refusal = edit_refusal(user, annotation_set)
    if refusal is not None:
        raise refusal


def require_can_review(user: Any, project: Project) -> None:
    if not can_review(user, project):
        raise NotAllowed("Only reviewers and managers may do this.")


def require_can_manage(user: Any, project: Project) -> None:
    if not can_manage(user, project):
        raise NotAllowed("Only project managers may do this.")
