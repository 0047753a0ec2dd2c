"""python -m audiostyle.encode: bad output paths fail before any encoding work."""

from audiostyle.encode import main


def test_out_naming_a_folder_is_a_one_line_error(tmp_path, capsys):
    folder = tmp_path / "outdir"
    folder.mkdir()
    assert main(["tone:220", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err
    assert list(folder.iterdir()) == []
