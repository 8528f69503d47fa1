"""The pages: decision list, decision page, history, tickets (thin routes).

Routes are plain `def`: FastAPI runs them in its thread pool, so the blocking database work
never holds the event loop (the form body is read by the async FormDep beforehand).

Every HTMX endpoint also works as a plain form post answered with a redirect or a page.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import ValidationError
from starlette.responses import Response

from app.accounts.access import PrincipalDep, requires
from app.accounts.roles import Permission
from app.advisor.snippets import snippets
from app.audit.events import record_event
from app.core.deps import MAX_ID, AdvisorDep, FormDep, IdPath, SessionDep, TemplatesDep
from app.core.errors import Conflict, Forbidden, Invalid, Problem
from app.core.htmx import is_htmx, page_or_partial, see_other
from app.core.pagecache import PageCache
from app.decisions import approvals, export, service
from app.decisions.forms import scope_from_form, tag_lines
from app.decisions.models import STATUSES
from app.decisions.schemas import DecisionPatch, QueryText
from app.decisions.scope import readers_missing, with_readers
from app.decisions.tickets import render_ticket_body
from app.probe import service as probe_service

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=512)
def _snippets(option: str, configuration_json: str) -> dict[str, str]:
    """Deploy snippets of a configuration, rendered once per distinct configuration."""
    return snippets(option=option, configuration=json.loads(configuration_json))


@router.get("/", name="home", dependencies=[requires(Permission.READ)])
def home(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    principal: PrincipalDep,
) -> Response:
    """The landing page: what awaits the reader's approval (auditors), start a decision,
    recent decisions, the options compared."""
    recent = service.list_decisions(session=session, limit=8)
    awaiting = (
        approvals.awaiting_review(session, principal.name)
        if principal.can(Permission.APPROVE)
        else None
    )
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "ruleset": engine.ruleset,
            "options": list(engine.ruleset.options.values()),
            "recent": recent,
            "awaiting": awaiting,
            "titles": {o.id: o.title for o in engine.ruleset.options.values()},
        },
    )


def _day(text: str) -> dt.date | None:
    """A YYYY-MM-DD day, or None for an empty field (checked by export_problems first)."""
    return dt.date.fromisoformat(text) if text else None


def export_problems(filters: dict[str, str]) -> dict[str, str]:
    """What is wrong with the export form's fields, by field (empty: nothing)."""
    problems: dict[str, str] = {}
    if filters["status"] and filters["status"] not in STATUSES:
        problems["status"] = f"{filters['status']!r} is not a status ({', '.join(STATUSES)})"
    days: dict[str, dt.date] = {}
    for name in ("since", "until"):
        raw = filters[name]
        if not raw:
            continue
        try:
            if not (raw.isascii() and len(raw) == 10):
                raise ValueError
            days[name] = dt.date.fromisoformat(raw)
        except ValueError:
            problems[name] = f"{raw!r} is not a day (YYYY-MM-DD)"
    if "since" in days and "until" in days and days["until"] < days["since"]:
        problems["until"] = f"{filters['until']} is before the since day {filters['since']}"
    return problems


@router.get("/decisions.{fmt}", name="decisions_export", dependencies=[requires(Permission.EXPORT)])
def decisions_export(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    fmt: Literal["csv", "json"],
    status: Annotated[QueryText | None, Query(max_length=40)] = None,
    since: Annotated[
        QueryText | None, Query(max_length=40, description="changed on or after (UTC day)")
    ] = None,
    until: Annotated[
        QueryText | None, Query(max_length=40, description="changed on or before (UTC day)")
    ] = None,
) -> Response:
    """Every decision matching the filters, one row each, as CSV or JSON (streamed). An empty
    field is no bound; a refused one comes back beside its field on the Decisions page (a
    browser) or as a 422 naming it (a script)."""
    filters = {"status": status or "", "since": since or "", "until": until or ""}
    problems = export_problems(filters)
    if problems:
        if "text/html" not in request.headers.get("accept", ""):  # a script: the API's 422
            detail = [
                {"loc": ["query", name], "msg": text, "input": filters[name], "type": "value_error"}
                for name, text in problems.items()
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        found = service.list_decisions(session=session)
        context = {
            "ruleset": engine.ruleset,
            "decisions": found,
            "filters": {"status": "", "ticket": "", "q": ""},
            "statuses": STATUSES,
            "export": filters,
            "export_errors": problems,
        }
        return templates.TemplateResponse(request, "decisions/list.html", context, status_code=422)
    status, since_day, until_day = (
        filters["status"] or None,
        _day(filters["since"]),
        _day(filters["until"]),
    )
    record_event(
        session,
        action="decisions.exported",
        subject="decisions export",
        request=request,
        details={"format": fmt, "status": status, "since": since_day, "until": until_day},
    )
    # The body streams after this function returns: it reads through a session of its own.
    rows = export.stream_rows(
        request.app.state.sessions, status=status, since=since_day, until=until_day
    )
    pieces = export.as_csv(rows) if fmt == "csv" else export.as_json(rows)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        pieces,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="atrest-decisions-{stamp}.{fmt}"'},
    )


@router.get("/decisions", name="decisions_list", dependencies=[requires(Permission.READ)])
def decisions_list(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    ticket: Annotated[QueryText | None, Query(max_length=2048)] = None,
    q: Annotated[QueryText | None, Query(max_length=200)] = None,
) -> Response:
    """Every decision, filtered by status, ticket key or URL, and text."""
    chosen = status if status in STATUSES else None
    found = service.list_decisions(
        session=session, status=chosen, ticket=ticket or None, q=q or None
    )
    context = {
        "ruleset": engine.ruleset,
        "decisions": found,
        "filters": {"status": chosen or "", "ticket": ticket or "", "q": q or ""},
        "statuses": STATUSES,
    }
    return page_or_partial(
        request,
        templates,
        page="decisions/list.html",
        partial="decisions/partials/table.html",
        context=context,
    )


def _detail_context(
    engine: AdvisorDep, view: service.DecisionView, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    result = None if view.current is None else view.current.result
    rec = None if result is None else result.get("recommendation")
    # The reader accounts of the scope replace the configuration's placeholder.
    configuration = None if rec is None else with_readers(rec["configuration"], view.decision.scope)
    return {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "version": view.current,
        "result": result,
        "configuration": configuration,
        "readers_missing": rec is not None
        and readers_missing(rec["configuration"], view.decision.scope),
        "snippets": None
        if rec is None
        else _snippets(rec["option"], json.dumps(configuration, sort_keys=True)),
        "options": list(engine.ruleset.options.values()),
        "titles": {o.id: o.title for o in engine.ruleset.options.values()},
        "questions": engine.ruleset.questions,
        "statuses": STATUSES,
        "errors": errors or {},
        "scope_tag_lines": tag_lines((view.decision.scope or {}).get("tags")),
    }


def _detail_page(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    view: service.DecisionView,
    *,
    errors: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The decision page, with inline errors when a form on it was refused."""
    context = _detail_context(engine, view, errors)
    context["versions"] = service.list_versions(session=session, decision_id=view.decision.id)
    context["probe_runs"] = probe_service.list_runs(session=session, decision_id=view.decision.id)
    context["approvals"] = approvals.list_approvals(session=session, decision_id=view.decision.id)
    principal = getattr(request.state, "principal", None)
    context["review_blocked"] = approvals.review_blocked(
        session, view.decision, None if principal is None else principal.name
    )
    context["probe_targets"] = request.app.state.settings.probe_targets
    context.update(extra or {})
    return templates.TemplateResponse(
        request, "decisions/detail.html", context, status_code=status_code
    )


@router.get(
    "/decisions/{decision_id}", name="decision_detail", dependencies=[requires(Permission.READ)]
)
def decision_detail(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    principal: PrincipalDep,
    decision_id: IdPath,
) -> Response:
    """The decision: recommendation, configuration, reasons, facts, history and tickets.

    The page is rendered once per stored state of the decision (its updated_at and version),
    rule set and reader (role and CSRF token: the forms carry it); any change gives a new key.
    """
    cache: PageCache = request.app.state.page_cache
    key = (
        str(request.base_url),
        principal.name,
        principal.role,
        principal.csrf_token,
        decision_id,
        *service.revision(session=session, decision_id=decision_id),
        probe_service.runs_revision(session=session, decision_id=decision_id),
        engine.ruleset.sha256,
    )
    body = cache.get(key)
    if body is None:
        view = service.get_decision(session=session, decision_id=decision_id)
        body = bytes(_detail_page(request, session, engine, templates, view).body)
        cache.put(key, body)
    return Response(body, media_type="text/html; charset=utf-8")


@router.post(
    "/decisions/{decision_id}/details",
    name="decision_details",
    dependencies=[requires(Permission.EDIT)],
)
def decision_details(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
) -> Response:
    """Change title, description, owner, status and scope (a plain form post)."""
    # Browsers send a textarea's line breaks as CRLF: read them as the LF they were shown as.
    fields = {
        name: str(form.get(name, "")).replace("\r\n", "\n").strip()
        for name in ("title", "description", "owner", "status")
    }
    problems: list[Problem] = []
    if not fields["title"]:
        problems.append(Problem(("title",), "", "is required"))
    if fields["status"] not in STATUSES:
        problems.append(Problem(("status",), fields["status"], "is not a status"))
    if not problems:
        stored = service.get_decision(session=session, decision_id=decision_id).decision
        given = {
            "title": fields["title"],
            "description": fields["description"] or None,
            "owner": fields["owner"] or None,
            "status": fields["status"],
            "scope": scope_from_form(form),
        }
        # A field left as the page showed it is no change (the form trims text, the API may
        # have stored it untrimmed): only what was changed is patched.
        shown = {
            "title": stored.title,
            "description": (stored.description or "").replace("\r\n", "\n").strip() or None,
            "owner": stored.owner,
            "status": stored.status,
        }
        changed = {k: v for k, v in given.items() if k not in shown or shown[k] != v}
        try:
            patch = DecisionPatch.model_validate(
                {**changed, "revision": str(form.get("revision", "")) or None}
            )
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(part) for part in err["loc"])
                message = f"{where}: {err['msg']} ({err.get('input')!r})"
                problems.append(Problem((str(err["loc"][0]),), err.get("input"), message))
    if problems:
        view = service.get_decision(session=session, decision_id=decision_id)
        errors = {str(p.loc[0]): p.message for p in problems}
        return _detail_page(
            request, session, engine, templates, view, errors=errors, status_code=422
        )
    service.update_decision(session=session, engine=engine, decision_id=decision_id, data=patch)
    return see_other(request, "decision_detail", decision_id=decision_id)


@router.get(
    "/decisions/{decision_id}/diff", name="decision_diff", dependencies=[requires(Permission.READ)]
)
def decision_diff(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    before: Annotated[int, Query(ge=1, le=MAX_ID)],
    after: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> Response:
    """What changed between two versions: answers and outcome."""
    view = service.get_decision(session=session, decision_id=decision_id)
    diff = service.compare_versions(
        session=session, decision_id=decision_id, before=before, after=after
    )
    context = {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "diff": diff,
        "before": before,
        "after": after,
        "questions": engine.ruleset.questions,
    }
    return page_or_partial(
        request,
        templates,
        page="decisions/diff.html",
        partial="decisions/partials/diff.html",
        context=context,
    )


@router.get(
    "/decisions/{decision_id}/reevaluate",
    name="decision_reevaluate",
    dependencies=[requires(Permission.READ)],
)
def decision_reevaluate(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
) -> Response:
    """The current answers under today's rule set, compared with the saved outcome."""
    found = service.reevaluate(session=session, engine=engine, decision_id=decision_id)
    context = {
        "ruleset": engine.ruleset,
        "decision": found.decision,
        "diff": found.diff,
        "reevaluation": found,
        "questions": engine.ruleset.questions,
    }
    return page_or_partial(
        request,
        templates,
        page="decisions/reevaluate.html",
        partial="decisions/partials/diff.html",
        context=context,
    )


@router.post(
    "/decisions/{decision_id}/reevaluate",
    name="decision_reevaluate_save",
    dependencies=[requires(Permission.EDIT)],
)
def decision_reevaluate_save(
    request: Request, session: SessionDep, engine: AdvisorDep, decision_id: IdPath
) -> Response:
    """Save the re-evaluation as a new version (only when the user asks)."""
    view = service.get_decision(session=session, decision_id=decision_id)
    answers = {} if view.current is None else view.current.answers
    service.save_answers(
        session=session,
        engine=engine,
        decision_id=decision_id,
        answers=answers,
        note=f"re-evaluated under rule set {engine.ruleset.version}",
    )
    return see_other(request, "decision_detail", decision_id=decision_id)


def _form_number(form: Any, name: str) -> int | None:
    """An optional whole number from a form field (ASCII digits only), else Invalid."""
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Invalid([Problem((name,), raw, "must be a whole number")])
    return int(raw)


@router.post(
    "/decisions/{decision_id}/approvals",
    name="approval_add",
    dependencies=[requires(Permission.READ)],
)
def approval_add(
    request: Request,
    form: FormDep,
    principal: PrincipalDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
) -> Response:
    """Propose, approve or reject (a plain form post; errors shown in the Approval section)."""
    action, comment = str(form.get("action", "")), str(form.get("comment", ""))
    principal.demand(approvals.ACTION_PERMISSION.get(action, Permission.APPROVE))
    try:
        # The page says which version and revision it showed: the step applies to those only.
        seen = {name: _form_number(form, name) for name in ("version", "revision")}
        approvals.record_step(
            session=session,
            engine=engine,
            decision_id=decision_id,
            action=action,
            actor=principal.name,
            comment=comment,
            version=seen["version"],
            revision=seen["revision"],
        )
    except (Invalid, Conflict, Forbidden) as exc:
        message = exc.brief
        view = service.get_decision(session=session, decision_id=decision_id)
        extra = {"approval_comment": comment}
        return _detail_page(
            request,
            session,
            engine,
            templates,
            view,
            errors={"approval": message},
            extra=extra,
            status_code=exc.status,
        )
    return see_other(request, "decision_detail", "#approval", decision_id=decision_id)


@router.post(
    "/decisions/{decision_id}/tickets", name="ticket_add", dependencies=[requires(Permission.EDIT)]
)
def ticket_add(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
) -> Response:
    """Link a ticket URL (HTMX: the tickets fragment; otherwise back to the page)."""
    url = str(form.get("url", "")).strip()
    error = None
    try:
        service.add_ticket(session=session, decision_id=decision_id, url=url)
    except Invalid as exc:
        error = exc.problems[0].message
    except Conflict as exc:
        error = exc.message
    view = service.get_decision(session=session, decision_id=decision_id)
    if error is None and not is_htmx(request):
        return see_other(request, "decision_detail", "#tickets", decision_id=decision_id)
    context = {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "ticket_error": error,
        "ticket_url": url,
    }
    if is_htmx(request):
        return templates.TemplateResponse(
            request, "decisions/partials/tickets.html", context, status_code=422 if error else 200
        )
    return _detail_page(request, session, engine, templates, view, extra=context, status_code=422)


@router.post(
    "/decisions/{decision_id}/tickets/{link_id}/delete",
    name="ticket_remove",
    dependencies=[requires(Permission.EDIT)],
)
def ticket_remove(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    link_id: IdPath,
) -> Response:
    """Unlink a ticket."""
    service.remove_ticket(session=session, decision_id=decision_id, link_id=link_id)
    if not is_htmx(request):
        return see_other(request, "decision_detail", "#tickets", decision_id=decision_id)
    view = service.get_decision(session=session, decision_id=decision_id)
    context = {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "ticket_error": None,
        "ticket_url": "",
    }
    return templates.TemplateResponse(request, "decisions/partials/tickets.html", context)


@router.get(
    "/decisions/{decision_id}/ticket.md",
    name="decision_ticket_body",
    dependencies=[requires(Permission.READ)],
)
def decision_ticket_body(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    raw: bool = False,
) -> Response:
    """'Copy as ticket': the Markdown body of a ticket implementing the decision."""
    view = service.get_decision(session=session, decision_id=decision_id)
    if view.current is None or view.current.result.get("recommendation") is None:
        raise Conflict("this decision has no recommendation to turn into a ticket yet")
    result = view.current.result
    rec = result["recommendation"]
    body = render_ticket_body(
        title=view.decision.title,
        description=view.decision.description,
        option_title=rec["title"],
        configuration=with_readers(rec["configuration"], view.decision.scope),
        rationale=rec["rationale"],
        warnings=[w["text"] for w in result.get("warnings", [])],
        ruleset_version=result["ruleset"]["version"],
        permalink=str(request.url_for("decision_detail", decision_id=decision_id)),
    )
    if raw:
        return PlainTextResponse(body, media_type="text/markdown; charset=utf-8")
    context = {"ruleset": engine.ruleset, "decision": view.decision, "body": body}
    return templates.TemplateResponse(request, "decisions/ticket_body.html", context)
