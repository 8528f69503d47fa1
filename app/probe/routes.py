"""The probe pages: start a run from a decision, watch it, read and filter its findings,
compare it with the previous run, link findings to tickets (thin routes).

Only targets configured in settings can be probed: the form sends a target's name, never an
endpoint. Every HTMX endpoint also works as a plain form post or page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from starlette.responses import JSONResponse, Response

from app.accounts.access import requires
from app.accounts.roles import Permission
from app.core.deps import AdvisorDep, FormDep, IdPath, SessionDep, SettingsDep, TemplatesDep
from app.core.errors import Conflict, Invalid, NotFound, Problem
from app.core.htmx import is_htmx, page_or_partial, see_other
from app.core.inputs import parse_id, shown
from app.decisions.service import get_decision
from app.probe import service
from app.probe.background import ProbeWorkers
from app.probe.checks import CHECK_IDS, STATUS_ORDER
from app.probe.records import ProbeRun
from app.probe.remediation import remediation_snippets
from app.probe.target import Target

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["probe"])


def _target(settings: SettingsDep, name: str) -> Target:
    target = settings.probe_target(name)
    if target is None:
        known = ", ".join(t.name for t in settings.probe_targets) or "none configured"
        raise Invalid([Problem(("target",), name, f"is not a configured target ({known})")])
    return target


def _start(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    decision_id: IdPath,
    target_name: str,
) -> ProbeRun:
    """Queue a run; it is handed to the workers once the request's transaction committed."""
    target = _target(settings, target_name)
    workers: ProbeWorkers = request.app.state.probe_workers
    run = service.start_run(
        session=session, decision_id=decision_id, target=target, owner=workers.owner
    )
    background.add_task(workers.submit, run.id, target)
    return run


@router.post(
    "/decisions/{decision_id}/probes", name="probe_start", dependencies=[requires(Permission.PROBE)]
)
def probe_start(
    request: Request,
    form: FormDep,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    decision_id: IdPath,
) -> Response:
    """Start a probe of a configured target (a plain form post) and go to its page."""
    run = _start(request, session, settings, background, decision_id, str(form.get("target", "")))
    return see_other(request, "probe_run", decision_id=decision_id, run_id=run.id)


def _snippets_for(run: ProbeRun, results: service.Results) -> dict[tuple[str, str], dict[str, str]]:
    """Remediation snippets for each finding on the page that asks for action."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for b in results.buckets:
        for f in b.findings:
            snippets = remediation_snippets(
                f.check,
                f.status,
                bucket=b.bucket,
                region=b.region,
                option=run.option,
                configuration=run.configuration,
                key_arn=b.key_arn,
                actual=f.actual,
            )
            if snippets:
                found[(b.bucket, f.check)] = snippets
    return found


def _run_context(
    session: SessionDep,
    engine: AdvisorDep,
    decision_id: IdPath,
    run_id: IdPath,
    filters: service.Filters,
) -> dict[str, Any]:
    view = get_decision(session=session, decision_id=decision_id)
    run = service.get_run(session=session, decision_id=decision_id, run_id=run_id)
    results = None
    if not run.active:
        results = service.run_results(session=session, run=run, filters=filters)
    return {
        "ruleset": engine.ruleset,
        "decision": view.decision,
        "run": run,
        "results": results,
        "snippets": {} if results is None else _snippets_for(run, results),
        "statuses": STATUS_ORDER,
        "check_ids": CHECK_IDS,
        "titles": {o.id: o.title for o in engine.ruleset.options.values()},
    }


FilterQuery = Annotated[str | None, Query(max_length=100)]


@router.get(
    "/decisions/{decision_id}/probes/{run_id}",
    name="probe_run",
    dependencies=[requires(Permission.READ)],
)
def probe_run(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    run_id: IdPath,
    status: FilterQuery = None,
    check: FilterQuery = None,
    q: FilterQuery = None,
    change: FilterQuery = None,
    page: FilterQuery = None,
) -> Response:
    """A run: progress while it runs; then buckets with filters, changes, tickets, fixes."""
    filters = service.Filters.parse(status=status, check=check, q=q, change=change, page=page)
    context = _run_context(session, engine, decision_id, run_id, filters)
    return page_or_partial(
        request,
        templates,
        page="probe/run.html",
        partial="probe/partials/results.html",
        context=context,
    )


@router.get(
    "/decisions/{decision_id}/probes/{run_id}/progress",
    name="probe_progress",
    dependencies=[requires(Permission.READ)],
)
def probe_progress(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    run_id: IdPath,
) -> Response:
    """The run's body, polled while it runs; once finished it comes back with the results."""
    context = _run_context(session, engine, decision_id, run_id, service.Filters())
    return templates.TemplateResponse(request, "probe/partials/run_body.html", context)


def _run_to_return_to(run_id: str) -> int:
    """The run a plain (non-HTMX) ticket form returns to, from its hidden run_id field."""
    if not run_id:
        raise NotFound("the form did not say which run to return to")
    back = parse_id(run_id)
    if back is None:
        raise Invalid([Problem(("run_id",), shown(run_id), "must be a run id (a whole number)")])
    return back


def _ticket_cell(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    bucket: str,
    check: str,
    *,
    error: str | None = None,
    url: str = "",
    run_id: str = "",
) -> Response:
    tickets = service.finding_tickets(
        session=session, decision_id=decision_id, bucket=bucket, check=check
    )
    context = {
        "decision_id": decision_id,
        "bucket": bucket,
        "check": check,
        "tickets": tickets,
        "ticket_error": error,
        "ticket_url": url,
        "run_id": run_id if parse_id(run_id) else "",
    }
    return templates.TemplateResponse(
        request,
        "probe/partials/finding_tickets.html",
        context,
        status_code=422 if error else 200,
    )


@router.post(
    "/decisions/{decision_id}/findings/tickets",
    name="finding_ticket_add",
    dependencies=[requires(Permission.EDIT)],
)
def finding_ticket_add(
    request: Request,
    form: FormDep,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision_id: IdPath,
) -> Response:
    """Link a ticket to a finding (HTMX: the finding's ticket cell; otherwise back to the run)."""
    bucket, check = str(form.get("bucket", "")), str(form.get("check", ""))
    url = str(form.get("url", "")).strip()
    run_id = str(form.get("run_id", ""))
    error = None
    try:
        service.add_finding_ticket(
            session=session, decision_id=decision_id, bucket=bucket, check=check, url=url
        )
    except Invalid as exc:
        error = f"{exc.problems[0].loc[-1]}: {exc.problems[0].message}"
    except Conflict as exc:
        error = exc.message
    if is_htmx(request):
        return _ticket_cell(
            request,
            session,
            templates,
            decision_id,
            bucket,
            check,
            error=error,
            url=url if error else "",
            run_id=run_id,
        )
    back = _run_to_return_to(run_id)
    if error is not None:
        raise Invalid([Problem(("url",), url, error)])
    return see_other(
        request, "probe_run", f"#f-{bucket}-{check}", decision_id=decision_id, run_id=back
    )


@router.post(
    "/decisions/{decision_id}/findings/tickets/{ticket_id}/delete",
    name="finding_ticket_remove",
    dependencies=[requires(Permission.EDIT)],
)
def finding_ticket_remove(
    request: Request,
    form: FormDep,
    session: SessionDep,
    templates: TemplatesDep,
    decision_id: IdPath,
    ticket_id: IdPath,
) -> Response:
    """Unlink a ticket from a finding."""
    link = service.remove_finding_ticket(
        session=session, decision_id=decision_id, ticket_id=ticket_id
    )
    run_id = str(form.get("run_id", ""))
    if is_htmx(request):
        return _ticket_cell(
            request, session, templates, decision_id, link.bucket, link.check, run_id=run_id
        )
    back = _run_to_return_to(run_id)
    return see_other(
        request,
        "probe_run",
        f"#f-{link.bucket}-{link.check}",
        decision_id=decision_id,
        run_id=back,
    )


@api.post(
    "/decisions/{decision_id}/probes",
    status_code=202,
    name="api_probe_start",
    dependencies=[requires(Permission.PROBE)],
)
def api_probe_start(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    decision_id: IdPath,
    target: Annotated[str, Query(max_length=63, description="A configured target's name")],
) -> JSONResponse:
    """Start a probe of a configured target; poll the run's URL for its progress and report."""
    run = _start(request, session, settings, background, decision_id, target)
    url = str(request.url_for("api_probe_run", decision_id=decision_id, run_id=run.id))
    return JSONResponse(
        {"id": run.id, "status": run.status, "url": url},
        status_code=202,
        headers={"Location": url},
    )


@api.get(
    "/decisions/{decision_id}/probes/{run_id}",
    name="api_probe_run",
    dependencies=[requires(Permission.READ)],
)
def api_probe_run(session: SessionDep, decision_id: IdPath, run_id: IdPath) -> dict[str, Any]:
    """A run as the probe JSON of CONTRACT.md, with the run's status and progress under `run`."""
    run = service.get_run(session=session, decision_id=decision_id, run_id=run_id)
    return service.run_report(session=session, run=run)
