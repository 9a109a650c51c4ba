"""Our explicit cells and stacks against torch.nn: same parameters, same outputs and gradients."""

from __future__ import annotations

import pytest
import torch

from pucklab.seqmodels.cells import GRUCell, LSTMCell, RNNCell
from pucklab.seqmodels.charrnn.model import CharRNN
from pucklab.seqmodels.layers import make_recurrent

PAIRS = [(RNNCell, torch.nn.RNNCell), (LSTMCell, torch.nn.LSTMCell), (GRUCell, torch.nn.GRUCell)]


def _h(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("ours_cls, torch_cls", PAIRS)
@pytest.mark.parametrize("batch, n_in, n_hidden", [(1, 1, 1), (4, 3, 5), (7, 16, 9), (None, 6, 4)])
def test_cell_matches_torch_values_and_gradients(ours_cls, torch_cls, batch, n_in, n_hidden):
    torch.manual_seed(batch or 0)
    theirs = torch_cls(n_in, n_hidden)
    ours = ours_cls(n_in, n_hidden)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(theirs.state_dict())
    shape = (n_in,) if batch is None else (batch, n_in)
    x = torch.randn(*shape)
    h0 = torch.randn(*shape[:-1], n_hidden)
    state = (h0, torch.randn_like(h0)) if ours_cls is LSTMCell else h0
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_t, out_o = theirs(xa, state), ours(xb, state)
    for a, b in zip(out_t if isinstance(out_t, tuple) else (out_t,),
                    out_o if isinstance(out_o, tuple) else (out_o,), strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(_h(out_t))
    (_h(out_t) * weights).sum().backward()
    (_h(out_o) * weights).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-5, rtol=1e-5)
    for (name, p_t), p_o in zip(theirs.named_parameters(), ours.parameters(), strict=True):
        torch.testing.assert_close(p_o.grad, p_t.grad, atol=1e-5, rtol=1e-5, msg=name)


def test_cells_default_state_is_zeros_and_relu_option():
    cell = RNNCell(3, 4, nonlinearity="relu")
    twin = torch.nn.RNNCell(3, 4, nonlinearity="relu")
    cell.load_state_dict(twin.state_dict())
    x = torch.randn(2, 3)
    torch.testing.assert_close(cell(x), twin(x))
    with pytest.raises(ValueError):
        RNNCell(3, 4, nonlinearity="sigmoid")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_explicit_stack_equals_fused_stack(cell):
    torch.manual_seed(1)
    fused = make_recurrent(cell, 5, 6, num_layers=3, impl="fused")
    explicit = make_recurrent(cell, 5, 6, num_layers=3, impl="explicit")
    assert list(explicit.state_dict()) == list(fused.state_dict())  # weight_ih_l0, ...
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(2, 11, 5)
    out_f, state_f = fused(x)
    out_e, state_e = explicit(x)
    torch.testing.assert_close(out_e, out_f, atol=1e-5, rtol=1e-5)
    for a, b in zip(state_f if isinstance(state_f, tuple) else (state_f,),
                    state_e if isinstance(state_e, tuple) else (state_e,), strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    # carrying the state on gives the same continuation
    out_f2, _ = fused(x, state_f)
    out_e2, _ = explicit(x, state_e)
    torch.testing.assert_close(out_e2, out_f2, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_char_rnn_explicit_and_fused_same_loss_and_gradients(cell):
    torch.manual_seed(2)
    fused = CharRNN(11, embed=8, hidden=12, layers=2, cell=cell, impl="fused")
    explicit = CharRNN(11, embed=8, hidden=12, layers=2, cell=cell, impl="explicit")
    explicit.load_state_dict(fused.state_dict())
    fused.load_state_dict(explicit.state_dict())  # and back: one layout
    idx = torch.randint(0, 11, (3, 9))
    losses = []
    for model in (fused, explicit):
        logits, _ = model(idx[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), idx[:, 1:].reshape(-1))
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[1], losses[0], atol=1e-5, rtol=1e-5)
    grads_e = dict(explicit.named_parameters())
    for name, p in fused.named_parameters():
        key = name.replace("rnn.", "rnn.cells.", 1)
        if key not in grads_e:  # rnn.weight_ih_l1 -> rnn.cells.1.weight_ih
            stem, layer = name.rsplit("_l", 1)
            key = stem.replace("rnn.", f"rnn.cells.{layer}.", 1)
        torch.testing.assert_close(grads_e[key].grad, p.grad, atol=1e-5, rtol=1e-5, msg=name)


def test_make_recurrent_rejects_bad_settings():
    with pytest.raises(ValueError, match="cell must be one of"):
        make_recurrent("transformer", 2, 2)
    with pytest.raises(ValueError, match="impl"):
        make_recurrent("lstm", 2, 2, impl="cuda")
    with pytest.raises(ValueError, match="dropout"):
        make_recurrent("lstm", 2, 2, num_layers=2, dropout=1.0)
