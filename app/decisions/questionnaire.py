"""The questionnaire pages: start a decision, answer it step by step, live panel (thin routes).

Routes are plain `def` (run in the thread pool); the form body is read by FormDep. Every
HTMX endpoint also works as a plain form post answered with a redirect or a page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.accounts.access import requires
from app.accounts.roles import Permission
from app.core.deps import AdvisorDep, FormDep, IdPath, SessionDep, TemplatesDep
from app.core.htmx import is_htmx, see_other
from app.decisions import service
from app.decisions.forms import answers_from_form, text_field

router = APIRouter(include_in_schema=False)


def _steps(engine: AdvisorDep) -> list[dict[str, Any]]:
    rs = engine.ruleset
    return [
        {"step": step, "questions": [q for q in rs.questions.values() if q.step == step.id]}
        for step in rs.steps.values()
    ]


@router.get("/decisions/new", name="decision_new", dependencies=[requires(Permission.EDIT)])
def decision_new(request: Request, engine: AdvisorDep, templates: TemplatesDep) -> Response:
    """Start a decision: give it a title, then answer the questionnaire."""
    return templates.TemplateResponse(
        request, "decisions/new.html", {"ruleset": engine.ruleset, "values": {}, "errors": {}}
    )


@router.post("/decisions/new", name="decision_create", dependencies=[requires(Permission.EDIT)])
def decision_create(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
) -> Response:
    """Create the draft and go to the first step of the questionnaire."""
    title, problem = text_field(form, "title", required=True)
    if problem is not None or title is None:
        errors = {"title": "Give the decision a title (up to 200 characters)."}
        return templates.TemplateResponse(
            request,
            "decisions/new.html",
            {
                "ruleset": engine.ruleset,
                "values": {"title": form.get("title", "")},
                "errors": errors,
            },
            status_code=422,
        )
    decision = service.start_draft(session=session, title=title)
    return see_other(request, "decision_edit", "?step=1", decision_id=decision.id)


def _wizard_context(
    engine: AdvisorDep,
    view: service.DecisionView,
    step_no: int,
    answers: dict[str, Any],
    errors: dict[str, str],
    panel: service.LivePanel,
) -> dict[str, Any]:
    steps = _steps(engine)
    step_no = max(1, min(step_no, len(steps)))
    return {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "steps": steps,
        "step_no": step_no,
        "current": steps[step_no - 1],
        "answers": answers,
        "errors": errors,
        "panel": panel,
    }


@router.get(
    "/decisions/{decision_id}/edit", name="decision_edit", dependencies=[requires(Permission.EDIT)]
)
def decision_edit(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    step: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    """One step of the questionnaire, with the live panel."""
    view = service.get_decision(session=session, decision_id=decision_id)
    answers = dict(view.decision.draft_answers)
    panel = service.live_panel(engine=engine, before=answers, after=answers)
    context = _wizard_context(engine, view, step, answers, {}, panel)
    return templates.TemplateResponse(request, "decisions/edit.html", context)


@router.post(
    "/decisions/{decision_id}/edit",
    name="decision_edit_post",
    dependencies=[requires(Permission.EDIT)],
)
def decision_edit_post(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    step: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    """Save a step's answers to the draft; go back, forward, or save the version."""
    view = service.get_decision(session=session, decision_id=decision_id)
    steps = _steps(engine)
    step = max(1, min(step, len(steps)))
    answers, problems = answers_from_form(steps[step - 1]["questions"], form)
    before = dict(view.decision.draft_answers)
    if problems:
        errors = {str(p.loc[0]): p.message for p in problems}
        merged = {**before, **answers}
        panel = service.live_panel(engine=engine, before=before, after=before)
        context = _wizard_context(engine, view, step, merged, errors, panel)
        return templates.TemplateResponse(request, "decisions/edit.html", context, status_code=422)
    decision = service.save_draft_answers(
        session=session, engine=engine, decision_id=decision_id, answers=answers
    )
    nav = form.get("nav", "next")
    if nav == "finish" or (nav == "next" and step >= len(steps)):
        service.save_answers(
            session=session, engine=engine, decision_id=decision_id, answers=decision.draft_answers
        )
        return see_other(request, "decision_detail", decision_id=decision_id)
    target = step - 1 if nav == "back" else step + 1
    return see_other(request, "decision_edit", f"?step={max(1, target)}", decision_id=decision_id)


@router.post(
    "/decisions/{decision_id}/draft",
    name="decision_draft",
    dependencies=[requires(Permission.EDIT)],
)
def decision_draft(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    step: Annotated[int, Query(ge=1, le=50)] = 1,
) -> Response:
    """HTMX: save the step's answers as they change and return the live panel.

    Without JavaScript the same form posts to decision_edit_post instead.
    """
    steps = _steps(engine)
    answers, problems = answers_from_form(
        steps[max(1, min(step, len(steps))) - 1]["questions"], form
    )
    if problems:
        # Keep the panel in place (it is the swap target) and say what was refused.
        before = service.draft_answers(session=session, decision_id=decision_id)
        panel = service.live_panel(engine=engine, before=before, after=before)
        context = {
            "ruleset": engine.ruleset,
            "panel": panel,
            "panel_errors": [p.message for p in problems],
        }
        return templates.TemplateResponse(
            request, "decisions/partials/panel.html", context, status_code=422
        )
    panel = service.autosave_draft(
        session=session, engine=engine, decision_id=decision_id, answers=answers
    )
    context = {"ruleset": engine.ruleset, "panel": panel}
    if not is_htmx(request):
        return see_other(request, "decision_edit", f"?step={step}", decision_id=decision_id)
    return templates.TemplateResponse(request, "decisions/partials/panel.html", context)
