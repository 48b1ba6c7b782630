"""Checkpoint.findings(): the triage report of the attack fixture, the same as the CLI's JSON."""

import json
import subprocess
import sys

import criu_images

from conftest import FIXTURES

ATTACK = FIXTURES / "attack" / "checkpoint.tar.zst"


def test_findings_name_each_planted_process_with_its_evidence():
    truth = json.loads((FIXTURES / "attack" / "truth.json").read_text())
    with criu_images.open(ATTACK) as cp:
        findings = cp.findings()
    assert findings == sorted(findings, key=lambda f: ["high", "medium", "low", "info"].index(f["severity"]))
    for f in findings:
        assert set(f) == {"id", "severity", "pid", "summary", "evidence"}
    by_id = {}
    for f in findings:
        by_id.setdefault((f["id"], f["pid"]), f)
    planted = {item["kind"]: item for item in truth["planted"]}
    rwx = planted["anon_rwx_mapping"]
    assert by_id[("memory.anon_wx", rwx["pid"])]["evidence"]["area"]["start"] == rwx["start"]
    cred = planted["credential_in_heap"]
    secret = next(f["evidence"] for f in findings if f["id"] == "secrets.credential" and f["evidence"]["address"] == cred["address"])
    assert secret["address"] == cred["address"] and cred["detail"]["value"] not in secret["value"]
    history = by_id[("history.bash", planted["bash_history"]["pid"])]["evidence"]["entries"]
    assert [e["line"] for e in history] == planted["bash_history"]["detail"]["commands"]
    assert ("network.reverse_shell", planted["reverse_shell"]["pid"]) in by_id


def test_show_secrets_and_same_as_cli():
    with criu_images.open(ATTACK) as cp:
        shown = cp.findings(show_secrets=True)
        masked = cp.findings()
    value = next(i for i in json.loads((FIXTURES / "attack" / "truth.json").read_text())["planted"] if i["kind"] == "credential_in_heap")["detail"]["value"]
    assert any(f["evidence"].get("value") == value for f in shown)
    # The same report as the command line's JSON (run through the wheel's entry point).
    cli = subprocess.run([sys.executable, "-m", "criu_images", "triage", str(ATTACK), "--format", "json"], capture_output=True, check=True)
    assert json.loads(cli.stdout)["findings"] == masked
