"""audiostyle-encode: bad output paths fail before any encoding work."""

from audiostyle.commands.encode import main


def test_out_naming_a_folder_is_a_one_line_error(tmp_path, capsys):
    folder = tmp_path / "outdir"
    folder.mkdir()
    assert main(["tone:220", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err
    assert list(folder.iterdir()) == []


def test_out_inside_a_file_fails_before_encoding(tmp_path, capsys):
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    assert main(["tone:220", "--out", str(a_file / "emb.npz")]) != 0
    err = capsys.readouterr().err
    assert "cannot write --out there" in err and "Traceback" not in err
    assert a_file.read_text() == "not a folder"


def test_a_clip_over_full_scale_is_encoded_with_a_warning(tmp_path, capsys):
    out = tmp_path / "chord.npz"
    chord = "chord:tone:261.63,tone:329.63,tone:392"  # three full-scale tones: peak about 1.5
    assert main([chord, "--out", str(out), "--layers", "A_1"]) == 0  # one block: cheap
    err = capsys.readouterr().err
    assert "exceeds 1.0; mu-law units leave" in err and out.exists()
    assert main(["tone:220", "--out", str(tmp_path / "t.npz"), "--layers", "A_1"]) == 0
    assert "exceeds 1.0" not in capsys.readouterr().err
