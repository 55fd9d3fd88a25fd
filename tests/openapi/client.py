"""Submits a plan through a client generated from the served /openapi.json by
openapi-python-client, waits for it and prints what it read as one JSON object on stdout.
Run by tests/openapi.rs:

    python client.py CLIENT_DIR BASE_URL TOKEN INSTANCE_DIR

CLIENT_DIR holds the generated package `catchment_client`; INSTANCE_DIR holds schools.csv,
pupils.csv and matrix.csv. Only the generated client talks to the service.
"""

import json
import sys
import time
from pathlib import Path


def main() -> None:
    client_dir, base_url, token, instance = sys.argv[1:5]
    sys.path.insert(0, client_dir)
    from catchment_client import AuthenticatedClient
    from catchment_client.api.plans import get_job, get_plan, submit_plan
    from catchment_client.models import ApiError, JobStatus, PlanRequest, PlanResponse

    def text(name: str) -> str:
        return (Path(instance) / name).read_text(encoding="utf-8")

    request = PlanRequest(
        schools=text("schools.csv"), pupils=text("pupils.csv"), matrix=text("matrix.csv")
    )
    client = AuthenticatedClient(base_url=base_url, token=token, timeout=120.0)
    client.raise_on_unexpected_status = True

    # Submit, then poll the job until it is done.
    r = submit_plan.sync_detailed(client=client, body=request)
    assert r.status_code == 202, (r.status_code, r.content)
    job = r.parsed
    assert isinstance(job, JobStatus), job
    deadline = time.monotonic() + 240
    while job.state in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job.id} did not finish"
        time.sleep(0.05)
        job = get_job.sync(job.id, client=client)
        assert isinstance(job, JobStatus), job
    assert job.state == "done", job.to_dict()
    plan = get_plan.sync(job.id, client=client)
    assert isinstance(plan, PlanResponse), plan

    # The same request with ?wait=true: answered with the plan itself (or, if it took longer
    # than the request timeout, with the job).
    waited = submit_plan.sync_detailed(client=client, body=request, wait=True)
    assert not isinstance(waited.parsed, ApiError), waited.parsed
    waited_plan = waited.parsed
    if isinstance(waited_plan, JobStatus):
        waited_plan = None

    json.dump(
        {
            "job": job.to_dict(),
            "plan": plan.to_dict(),
            "waited_status": int(waited.status_code),
            "waited_plan": waited_plan.to_dict() if waited_plan else None,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
