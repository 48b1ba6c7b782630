"""Checkpoint.yara() / Memory.yara(): the attack fixture's rules give its truth hits, as dicts and tables."""

import json

import pytest

import criu_images

from conftest import FIXTURES

ATTACK = FIXTURES / "attack" / "checkpoint.tar.zst"
RULES = FIXTURES / "attack" / "rules.yar"


def expected():
    truth = json.loads((FIXTURES / "attack" / "truth.json").read_text())
    return sorted((h["pid"], h["rule"], h["string"], h["address"]) for h in truth["yara"])


def test_checkpoint_yara_with_path_source_and_compiled_rules():
    compiled = criu_images.YaraRules(RULES)
    with criu_images.open(ATTACK) as cp:
        for rules in (str(RULES), RULES, RULES.read_text(), compiled):
            hits = cp.yara(rules)
            assert sorted((h["pid"], h["rule"], h["string"], h["address"]) for h in hits) == expected()
            assert not hits.truncated
        hit = next(h for h in hits if h["rule"] == "FX_Fake_AWS_Secret_Key")
        assert hit["vma"]["path"] == "[heap]" and hit["vma"]["start"] <= hit["address"] < hit["vma"]["end"]
        assert bytes.fromhex(hit["matched_hex"]).startswith(b"AWS_SECRET_ACCESS_KEY=")


def test_memory_yara_progress_and_tables():
    seen = []
    with criu_images.open(ATTACK) as cp:
        hits = cp.memory(7).yara(RULES, progress=lambda done, total: seen.append((done, total)))
        assert sorted((h["pid"], h["rule"], h["string"], h["address"]) for h in hits) == [e for e in expected() if e[0] == 7]
        assert seen and seen[-1][0] == seen[-1][1] > 0
        frame = hits.to_pandas()
        assert list(frame["address"]) == [h["address"] for h in hits]
        assert set(frame["vma_perms"]) <= {"rw-p", "rwxp"}
        # The library's table, as `export --yara` writes it.
        table = hits.to_arrow()
        assert table.column("checkpoint").to_pylist() == [str(ATTACK)] * len(hits)
        assert table.column("match").to_pylist() == [bytes.fromhex(h["matched_hex"]) for h in hits]
        assert table.column("tags").to_pylist() == [h["tags"] for h in hits]
        assert table.num_rows == len(hits) > 0


def test_bad_rules_and_hit_limit():
    with criu_images.open(ATTACK) as cp:
        with pytest.raises(criu_images.CriuImagesError, match="line|:3:"):
            cp.yara("rule x {\n strings: $a = \"a\"\n condition: $b\n}")
        hits = cp.yara("rule every { strings: $a = { ?? } condition: $a }", pid=1, max_hits=50)
        assert len(hits) == 50 and hits.truncated
