"""`doraflow demo --warehouse-dir DIR` only ever empties a folder doraflow made (issue 11, item 7)."""

from __future__ import annotations

from doraflow.cli import DEMO_MARKER, main, prepare_demo_dir


def test_a_folder_with_someone_elses_file_is_refused_and_left_alone(tmp_path, capsys):
    folder = tmp_path / "my-warehouse"
    folder.mkdir()
    (folder / "dora.duckdb").write_bytes(b"a real warehouse")
    (folder / "notes.txt").write_text("unrelated", encoding="utf-8")
    code = main(["demo", "--warehouse-dir", str(folder), "--days", "5"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # refused before the simulator or anything else started
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(
        f"doraflow demo: error: --warehouse-dir {folder} is not empty and not a demo folder"
    )
    assert "choose a new or empty folder" in line
    assert sorted(path.name for path in folder.iterdir()) == ["dora.duckdb", "notes.txt"]
    assert (folder / "dora.duckdb").read_bytes() == b"a real warehouse"


def test_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "report.html"
    path.write_text("<html>", encoding="utf-8")
    assert main(["demo", "--warehouse-dir", str(path)]) == 2
    assert "is not a folder doraflow made" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "<html>"


def test_a_symbolic_link_to_a_folder_is_refused(tmp_path):
    import pytest

    from doraflow.config import ConfigError

    real = tmp_path / "real"
    real.mkdir()
    (real / DEMO_MARKER).write_text("x", encoding="utf-8")
    (real / "keep.txt").write_text("x", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(ConfigError, match="is not a folder doraflow made"):
        prepare_demo_dir(link)
    assert (real / "keep.txt").exists()


def test_a_new_or_empty_folder_gets_the_marker(tmp_path):
    new = prepare_demo_dir(tmp_path / "a" / "demo")
    assert [path.name for path in new.iterdir()] == [DEMO_MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_demo_dir(empty)
    assert [path.name for path in empty.iterdir()] == [DEMO_MARKER]


def test_a_folder_an_earlier_demo_made_is_emptied(tmp_path):
    folder = prepare_demo_dir(tmp_path / "demo")
    (folder / "dora.duckdb").write_bytes(b"last demo")
    (folder / "landing").mkdir()
    (folder / "landing" / "batch.jsonl.gz").write_bytes(b"x")
    prepare_demo_dir(folder)
    assert [path.name for path in folder.iterdir()] == [DEMO_MARKER]
