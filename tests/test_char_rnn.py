"""char-RNN end to end on a small corpus the tests make: training, resume, sampling, bad input."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from helpers import make_corpus
from pucklab.runs.metrics import read_metrics
from pucklab.runs.store import RunError, load_checkpoint, save_checkpoint
from pucklab.seqmodels.charrnn import cli
from pucklab.seqmodels.charrnn import data as chardata
from pucklab.seqmodels.charrnn import model as charmodel
from pucklab.seqmodels.charrnn import runner as charrnn
from pucklab.seqmodels.sample import generate

SMALL = ["--hidden", "32", "--embed", "16", "--layers", "2", "--seq-len", "16",
         "--batch-size", "8", "--no-progress"]


@pytest.fixture()
def corpus(tmp_path):
    return make_corpus(tmp_path / "words.txt")


def train(tmp_path, corpus, name, *extra):
    run_dir = tmp_path / name
    code = cli.main(["train", "--corpus", str(corpus), *SMALL, "--run-dir", str(run_dir), *extra])
    return code, run_dir


def test_train_learns_writes_the_run_and_reports(tmp_path, corpus, capsys):
    code, run_dir = train(tmp_path, corpus, "a", "--epochs", "3", "--eval-every", "10")
    out = capsys.readouterr().out
    assert code == 0
    line = [ln for ln in out.splitlines() if ln.startswith("best val_loss")][0]
    nats, last = float(line.split()[2]), float(line.split()[-1])
    shown_bits = float(line.split("(")[1].split()[0])
    assert shown_bits == pytest.approx(nats / math.log(2), abs=2e-4) and nats <= last
    vocab = len(set(corpus.read_text()))
    assert nats < 0.6 * math.log(vocab)  # far better than uniform guessing
    for name in ("config.json", "metrics.csv", "loss_curve.png", "checkpoints/last.pt",
                 "checkpoints/best.pt"):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    ckpt = load_checkpoint(run_dir)
    assert ckpt["task"]["vocab"] == sorted(set(corpus.read_text()))
    assert {"optimizer", "rng", "counters", "model_args"} <= set(ckpt)


def test_resume_gives_the_same_next_losses_as_an_uninterrupted_run(tmp_path, corpus):
    steps = chardata.CharTask(corpus.read_text(), 16, 8).steps_per_epoch
    common = ["--dropout", "0.1", "--eval-every", "5", "--log-every", "1",
              "--schedule", "step", "--lr-decay", "0.7"]
    total = steps + 7  # crosses an epoch: the carried state resets and the LR steps down
    assert train(tmp_path, corpus, "whole", *common, "--max-steps", str(total))[0] == 0
    assert train(tmp_path, corpus, "split", *common, "--max-steps", "10")[0] == 0
    torch.manual_seed(999)  # resume must not depend on the RNG it starts with
    assert cli.main(["train", "--resume", str(tmp_path / "split"), "--max-steps", str(total),
                     "--no-progress"]) == 0
    whole, split = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [r["step"] for r in whole] == [r["step"] for r in split]
    assert [r["train_loss"] for r in split] == pytest.approx(
        [r["train_loss"] for r in whole], rel=1e-5, nan_ok=True)
    assert [r["lr"] for r in split] == pytest.approx([r["lr"] for r in whole], nan_ok=True)
    assert load_checkpoint(tmp_path / "split")["counters"]["step"] == total


def test_resume_refuses_another_vocabulary_and_changed_shape(tmp_path, corpus, capsys):
    assert train(tmp_path, corpus, "r", "--max-steps", "3")[0] == 0
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text() + "XYZ")
    assert cli.main(["train", "--resume", str(tmp_path / "r"), "--corpus", str(other),
                     "--max-steps", "6"]) == 2
    assert "vocabulary mismatch" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path / "r"), "--hidden", "64"]) == 2
    assert "--hidden cannot change" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "r")["counters"]["step"] == 3  # nothing was touched


def test_sampling_is_seeded_and_temperature_zero_is_argmax(tmp_path, corpus, capsys):
    assert train(tmp_path, corpus, "s", "--epochs", "2")[0] == 0
    model, vocab = charrnn.load_model(tmp_path / "s")

    def text(**kw):
        return "".join(generate(model, vocab, "the ", 80, **kw))

    assert text(seed=3) == text(seed=3)
    assert text(seed=3) != text(seed=4)
    greedy = text(argmax=True)
    assert text(temperature=1e-4, seed=5) == greedy == text(temperature=0.0)
    assert text(temperature=1e-320, seed=5) == greedy  # no inf - inf on the way
    for t in (float("nan"), float("inf"), -1.0):
        with pytest.raises(RunError, match="--temperature must be a finite number"):
            text(temperature=t)
    assert len(set(text(top_k=1, seed=7)) - set(greedy)) == 0 and text(top_k=1, seed=7) == greedy
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "s"), "--prime", "the", "--length", "40",
                     "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the") and len(out) == len("the") + 40 + 1
    # sample's default is the best checkpoint (the lowest validation loss), not the last one
    best, _ = charrnn.load_model(tmp_path / "s", "best.pt", device="cpu")
    assert out == "the" + "".join(generate(best, vocab, "the", 40, 0.8, seed=1,
                                           device=torch.device("cpu"))) + "\n"
    # the same weights sampled through the explicit cells give the same text
    explicit, _ = charrnn.load_model(tmp_path / "s", impl="explicit")
    assert "".join(generate(explicit, vocab, "the ", 80, argmax=True)) == greedy


def bad(argv, capsys, expect):
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert expect in captured.err, captured.err
    return captured


def test_bad_input_is_one_line_exit_2(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in ./runs
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.dat").write_bytes(bytes(range(256)))
    (tmp_path / "short.txt").write_text("to be or not to be")
    bad(["train", "--corpus", "missing.txt"], capsys, "not found")
    bad(["train", "--corpus", "empty.txt"], capsys, "is empty")
    bad(["train", "--corpus", "binary.dat"], capsys, "not UTF-8")
    bad(["train", "--corpus", str(tmp_path)], capsys, "not a file")
    bad(["train", "--corpus", "short.txt"], capsys, "corpus too short")
    bad(["train", "--corpus", str(corpus), "--cell", "transformer"], capsys, "--cell must be one of")
    bad(["train", "--corpus", str(corpus), "--lr", "0"], capsys, "--lr must be > 0")
    bad(["train", "--corpus", str(corpus), "--hidden", "many"], capsys, "invalid int value")
    bad(["train", "--corpus", str(corpus), "--precision", "fp16"], capsys,
        "--precision must be one of")
    if not torch.cuda.is_available():
        bad(["train", "--corpus", str(corpus), *SMALL, "--device", "cuda"], capsys, "no CUDA")
    bad(["sample", str(tmp_path)], capsys, "no checkpoint")
    bad(["train", "--resume", str(tmp_path)], capsys, "not a run folder")
    bad(["frobnicate"], capsys, "unknown command")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert train(tmp_path, corpus, "ok", "--max-steps", "2")[0] == 0
    capsys.readouterr()
    captured = bad(["sample", str(tmp_path / "ok"), "--prime", "Zebra€"], capsys,
                   "not in the model's vocabulary")
    assert captured.out == ""  # the error comes before any text
    bad(["train", "--corpus", str(corpus), "--run-dir", str(tmp_path / "ok")], capsys,
        "already holds a run")
    # checkpoints that are valid files but not what char-rnn wrote, or damaged ones
    for name in ("last.pt", "best.pt"):
        save_checkpoint(tmp_path / "ok", {"algo": "reinforce"}, name, command="train-agent")
    bad(["sample", str(tmp_path / "ok")], capsys, "is a train-agent checkpoint; char-rnn needs")
    bad(["train", "--resume", str(tmp_path / "ok")], capsys, "is a train-agent checkpoint")
    save_checkpoint(tmp_path / "ok", {"model": {}, "task": {}}, "best.pt", command="char-rnn")
    bad(["sample", str(tmp_path / "ok")], capsys, "damaged: it lacks model_args")
    save_checkpoint(tmp_path / "ok", {"model": {}, "model_args": {"vocab_size": 3}, "task":
                                      {"vocab": list("abc")}}, "best.pt", command="char-rnn")
    bad(["sample", str(tmp_path / "ok")], capsys, "damaged: its weights do not fit")


def test_shakespeare_is_found_verified_or_explained(tmp_path, monkeypatch):
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if (shared / chardata.SHAKESPEARE_FILE).is_file():
        monkeypatch.setenv("PUCKLAB_DATA", str(shared))
        text, path = chardata.read_corpus("shakespeare")
        assert path.parent == shared and text.startswith("First Citizen:")
        assert len(text) == 1115394 and len(set(text)) == 65
    fake = tmp_path / "data"
    fake.mkdir()
    (fake / chardata.SHAKESPEARE_FILE).write_text("not shakespeare")
    monkeypatch.setenv("PUCKLAB_DATA", str(fake))
    with pytest.raises(RunError, match="sha256 mismatch"):
        chardata.read_corpus("shakespeare")
    monkeypatch.setenv("PUCKLAB_DATA", str(tmp_path / "nowhere"))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(chardata.urllib.request, "urlopen", offline)
    with pytest.raises(RunError, match="--corpus PATH"):
        chardata.read_corpus("shakespeare")
    assert not (tmp_path / "cache" / "pucklab" / chardata.SHAKESPEARE_FILE).exists()


def test_download_is_cached_after_the_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PUCKLAB_DATA", raising=False)
    payload = b"First Citizen:\n"
    calls = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return payload

    def fake_urlopen(url, timeout):
        calls.append(url)
        return Response()

    monkeypatch.setattr(chardata.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(chardata, "SHAKESPEARE_SHA256", chardata.hashlib.sha256(payload).hexdigest())
    path = chardata.shakespeare_path()
    assert path.read_bytes() == payload and calls == [chardata.SHAKESPEARE_URL]
    assert chardata.shakespeare_path() == path and len(calls) == 1  # second time from the cache
    payload = b"tampered"
    path.unlink()
    with pytest.raises(RunError, match="does not match the pinned sha256"):
        chardata.shakespeare_path()
    assert not path.exists()


def test_overfitting_stops_early_by_default_and_is_said_without_it(tmp_path, capsys):
    """Random letters cannot be learnt, only memorised: validation rises after an epoch or two.
    The default patience (5 validations) stops there with the best weights; --patience 0 runs
    on and says once, plainly, that the model is overfitting."""
    rng = random.Random(0)
    text = tmp_path / "random.txt"
    text.write_text("".join(rng.choice("abcdefghij") for _ in range(4000)), encoding="utf-8")
    argv = ["train", "--corpus", str(text), "--hidden", "128", "--embed", "16", "--layers", "1",
            "--seq-len", "32", "--batch-size", "8", "--dropout", "0", "--lr", "1e-2",
            "--epochs", "40", "--no-progress"]
    assert cli.main([*argv, "--run-dir", str(tmp_path / "default")]) == 0
    out = capsys.readouterr().out
    assert "stopped: early stopping" in out
    best = charrnn.run(charrnn.saved_settings(tmp_path / "default"), tmp_path / "default",
                       resume=True)  # an early-stopped run stays stopped
    assert best.metrics["val_loss"] == best.metrics["best_val_loss"]
    assert cli.main([*argv, "--patience", "0", "--run-dir", str(tmp_path / "on")]) == 0
    err = capsys.readouterr().err
    assert err.count("the model is overfitting") == 1
    rows = read_metrics(tmp_path / "on")
    val = [r["val_loss"] for r in rows if not math.isnan(r["val_loss"])]
    assert val[-1] > min(val) + 0.5  # it did overfit: the warning was true


def test_bf16_trains_under_autocast_and_evaluates_in_float32():
    torch.manual_seed(0)
    exact = charmodel.CharRNN(11, embed=8, hidden=32, layers=2, precision="fp32")
    mixed = charmodel.CharRNN(11, embed=8, hidden=32, layers=2, precision="bf16")
    mixed.load_state_dict(exact.state_dict())
    idx = torch.randint(0, 11, (4, 20))
    grads = []
    for model in (exact, mixed):
        logits, (h, c) = model(idx)
        assert logits.dtype == h.dtype == c.dtype == torch.float32  # what the trainer sees
        torch.nn.functional.cross_entropy(logits.reshape(-1, 11), idx.reshape(-1)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        assert all(p.dtype == torch.float32 for p in model.parameters())
    # training: bf16 arithmetic, so near but not equal; the gradients point the same way
    train_exact, train_mixed = exact(idx)[0], mixed(idx)[0]
    assert not torch.equal(train_mixed, train_exact)
    torch.testing.assert_close(train_mixed, train_exact, atol=0.05, rtol=0.05)
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.99
    # evaluation: float32, the same numbers as the float32 model
    exact.eval(), mixed.eval()
    assert torch.equal(mixed(idx)[0], exact(idx)[0])
    with pytest.raises(ValueError, match="resolve auto first"):
        charmodel.CharRNN(11, precision="auto")


def test_auto_precision_is_bf16_only_on_a_cpu_that_has_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert charmodel.auto_precision(cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert charmodel.auto_precision(cpu) == "fp32"
    assert charmodel.auto_precision(torch.device("meta")) == "fp32"
    # cuDNN's float32 kernels already use the tensor cores: bf16 autocast measured slower
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert charmodel.auto_precision(torch.device("cuda")) == "fp32"


def test_precision_is_resolved_into_the_run_and_kept_on_resume(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(charrnn, "auto_precision", lambda device: "bf16")
    assert train(tmp_path, corpus, "auto", "--max-steps", "3")[0] == 0
    assert charrnn.saved_settings(tmp_path / "auto").precision == "bf16"
    monkeypatch.setattr(charrnn, "auto_precision", lambda device: "fp32")  # another machine
    assert cli.main(["train", "--resume", str(tmp_path / "auto"), "--max-steps", "5",
                     "--no-progress"]) == 0
    assert charrnn.saved_settings(tmp_path / "auto").precision == "bf16"
    assert train(tmp_path, corpus, "fp32", "--max-steps", "3", "--precision", "fp32")[0] == 0
    assert charrnn.saved_settings(tmp_path / "fp32").precision == "fp32"
    # a run written before --precision existed trained in float32, and resumes so
    config = json.loads((tmp_path / "fp32" / "config.json").read_text())
    del config["settings"]["precision"]
    (tmp_path / "fp32" / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(charrnn, "auto_precision", lambda device: "bf16")
    assert cli.main(["train", "--resume", str(tmp_path / "fp32"), "--max-steps", "5",
                     "--no-progress"]) == 0
    assert charrnn.saved_settings(tmp_path / "fp32").precision == "fp32"


def test_minutes_alone_end_at_the_default_epochs_with_the_schedule_at_zero(tmp_path, corpus,
                                                                           monkeypatch):
    """--minutes is a limit on top of the model's epochs: a machine that could fit more epochs
    into the minutes trains the same run sooner, its cosine at zero where the epochs end."""
    monkeypatch.setattr(charrnn, "DEFAULT_EPOCHS", 1.0)
    assert train(tmp_path, corpus, "capped", "--minutes", "5")[0] == 0
    settings = charrnn.saved_settings(tmp_path / "capped")
    assert (settings.train.epochs, settings.train.minutes) == (1.0, 5.0)
    rows = read_metrics(tmp_path / "capped")
    assert rows[-1]["epoch"] == pytest.approx(1.0) and rows[-1]["lr"] == pytest.approx(0.0)
    # an explicit step or epoch budget is not capped
    assert train(tmp_path, corpus, "steps", "--minutes", "5", "--max-steps", "3")[0] == 0
    assert charrnn.saved_settings(tmp_path / "steps").train.epochs is None
    assert train(tmp_path, corpus, "epochs", "--epochs", "3", "--max-steps", "2")[0] == 0
    assert charrnn.saved_settings(tmp_path / "epochs").train.epochs == 3.0
