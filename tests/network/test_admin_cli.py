"""`doorwatch network export-authority / import-authority / group / invite --qr`,
with the node stopped (the CLI opens the store) and running (over its socket)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from PIL import Image

from doorwatch.node.testing import doorwatch

from .conftest import Nodes
from .test_network_daemons import cli, cli_fails, members, peer_id, status, wait_for


def _passphrase(tmp: Path) -> Path:
    path = tmp / "passphrase"
    path.write_text("correct horse battery staple\n")
    return path


def test_authority_key_offline_and_back_with_the_node_stopped(nodes: Nodes, tmp_path: Path) -> None:
    a = nodes.new("a", "The Crown")
    d = str(a.data_dir)
    network_id = cli("network", "create", "--data-dir", d, "--name", "Town")
    key_file = tmp_path / "town.key"

    out = cli(
        "network", "export-authority", "--data-dir", d, "--out", str(key_file),
        "--passphrase-file", str(_passphrase(tmp_path)), "--remove", "--json",
    )  # fmt: skip
    assert json.loads(out) == {"network_id": network_id, "file": str(key_file), "removed": True}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text())["protection"]["kdf"] == "argon2id"
    # The file is never overwritten.
    message = cli_fails("network", "export-authority", "--data-dir", d, "--out", str(key_file))
    assert "already exists" in message

    for args in (
        ("network", "revoke", "12D3KooWAnyone", "--data-dir", d),
        ("network", "group", "add", "committee", "--data-dir", d),
        ("network", "export-authority", "--data-dir", d, "--out", str(tmp_path / "again")),
    ):
        message = cli_fails(*args)
        assert "offline" in message, message
        assert "import-authority" in message, message
    assert not (tmp_path / "again").exists()
    assert set(members(a)) == {"The Crown"}  # still the network's hub

    message = cli_fails("network", "import-authority", str(key_file), "--data-dir", d)
    assert "passphrase" in message
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    message = cli_fails(
        "network",
        "import-authority",
        str(key_file),
        "--data-dir",
        d,
        "--passphrase-file",
        str(wrong),
    )
    assert "wrong passphrase" in message
    out = cli(
        "network", "import-authority", str(key_file), "--data-dir", d,
        "--passphrase-file", str(_passphrase(tmp_path)),
    )  # fmt: skip
    assert network_id in out
    out = cli("network", "group", "add", "committee", "--data-dir", d, "--json")
    assert json.loads(out) == {"network_id": network_id, "group": "committee", "reissued": []}
    groups = json.loads(cli("network", "group", "list", "--data-dir", d, "--json"))["groups"]
    assert groups == {"all": ["The Crown"], "committee": []}
    message = cli_fails("network", "group", "remove", "all", "--data-dir", d)
    assert "cannot be removed" in message


def test_unprotected_export_is_warned_and_bad_files_refused(nodes: Nodes, tmp_path: Path) -> None:
    a = nodes.new("a", "The Crown")
    d = str(a.data_dir)
    cli("network", "create", "--data-dir", d, "--name", "Town")
    key_file = tmp_path / "town.key"
    done = doorwatch("network", "export-authority", "--data-dir", d, "--out", str(key_file))
    assert done.returncode == 0
    assert "WITHOUT a passphrase" in done.stderr
    junk = tmp_path / "junk.key"
    junk.write_text("{not json")
    message = cli_fails("network", "import-authority", str(junk), "--data-dir", d)
    assert "not a Doorwatch network authority key file" in message
    # Still held here: nothing to import.
    message = cli_fails("network", "import-authority", str(key_file), "--data-dir", d)
    assert "already holds" in message
    # A node that is not the network's hub cannot take the key.
    b = nodes.new("b", "The Swan")
    message = cli_fails("network", "import-authority", str(key_file), "--data-dir", str(b.data_dir))
    assert "does not belong" in message


def test_authority_offline_groups_and_qr_with_the_node_running(
    nodes: Nodes, tmp_path: Path
) -> None:
    a = nodes.new("a", "The Crown")
    d = str(a.data_dir)
    network_id = cli("network", "create", "--data-dir", d, "--name", "Town")
    a.start()
    b = nodes.new("b", "The Swan")
    b.start()
    png = tmp_path / "invite.png"
    out = cli(
        "network", "invite", "--data-dir", d, "--venue", "The Swan", "--qr", "--qr-png", str(png)
    )
    token, *qr = out.splitlines()
    assert token.startswith("dwinv1-")
    assert len(qr) > 10
    assert any("█" in line for line in qr)
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size[0] > 100
    assert png.stat().st_mode & 0o777 == 0o600  # the token's picture is as secret as the token
    cli("network", "join", token, "--data-dir", str(b.data_dir))
    b_id = peer_id(b)

    key_file = tmp_path / "town.key"
    cli(
        "network", "export-authority", "--data-dir", d, "--out", str(key_file),
        "--passphrase-file", str(_passphrase(tmp_path)), "--remove",
    )  # fmt: skip
    message = cli_fails("network", "invite", "--data-dir", d, "--venue", "The Bell")
    assert "offline" in message
    assert "import-authority" in message
    assert [n["authority"] for n in status(a)["networks"]] == [True]
    cli(
        "network", "import-authority", str(key_file), "--data-dir", d,
        "--passphrase-file", str(_passphrase(tmp_path)),
    )  # fmt: skip

    # A group added with B in it: B's certificate is re-issued and B gets the key.
    out = json.loads(
        cli("network", "group", "add", "committee", "--member", b_id, "--data-dir", d, "--json")
    )
    assert out["reissued"] == [b_id]
    wait_for(
        "B is in the new group", lambda: members(b)["The Swan"]["groups"] == ["all", "committee"]
    )
    wait_for(
        "B holds the group's key",
        lambda: status(b)["networks"][0]["group_epochs"] == {"all": 1, "committee": 1},
    )
    cli("network", "group", "remove", "committee", "--data-dir", d)
    wait_for("B is out of the group", lambda: members(b)["The Swan"]["groups"] == ["all"])
    assert network_id == status(b)["networks"][0]["network_id"]
