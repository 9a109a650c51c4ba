"""The forecaster's linear part (``--autoregressive``, on by default): analytic checks, and the
case it is there for -- an input outside the range the network was trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pucklab.seqmodels.forecast.model import Forecaster


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_the_linear_part_adds_a_linear_autoregression(strategy):
    torch.manual_seed(0)
    net = Forecaster(4, 8, strategy=strategy, linear=6).eval()
    alone = Forecaster(4, 8, strategy=strategy).eval()
    alone.load_state_dict({k: v for k, v in net.state_dict().items()
                           if not k.startswith("linear.")})
    x = torch.randn(5, 6)
    w, b = net.linear.weight.detach(), net.linear.bias.detach()
    with torch.no_grad():
        if strategy == "direct":  # one map of the window, added to each of the H outputs
            torch.testing.assert_close(net(x), alone(x) + x @ w.T + b)
        else:  # at each position with 6 inputs up to it; the network alone before that
            x = torch.randn(5, 9)
            ar = torch.stack([x[:, i - 5:i + 1] @ w[0] + b[0] if i >= 5 else torch.zeros(5)
                              for i in range(9)], dim=1)
            torch.testing.assert_close(net(x), alone(x) + ar)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_with_a_silent_network_a_shifted_window_shifts_the_forecast(strategy):
    """Each output's linear weights summing to one: a window moved up by c gives forecasts
    moved up by exactly c, however far outside anything seen, at every step (recursive: its
    own forecasts fed back)."""
    torch.manual_seed(1)
    net = Forecaster(5, 8, strategy=strategy, linear=4).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        net.linear.weight.copy_(torch.softmax(torch.randn_like(net.linear.weight), dim=1))
        x = torch.randn(3, 10)
        torch.testing.assert_close(net.forecast(x + 40.0), net.forecast(x) + 40.0)


def test_runs_written_before_the_linear_part_load_as_the_network_alone():
    args = Forecaster(3, 8).model_args
    old = {k: v for k, v in args.items() if k != "linear"}
    assert Forecaster(**old).linear is None
    assert Forecaster(3, 8, linear=5).model_args["linear"] == 5


def fit(net: Forecaster, x: torch.Tensor, y: torch.Tensor, steps: int = 400) -> Forecaster:
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    return net.eval()


def test_a_level_outside_the_training_range_is_followed_only_with_the_linear_part():
    """A mean-reverting series (AR(1), phi 0.9) around 0, trained on levels; then windows
    whose level sits 12 standard deviations above anything in training. The best forecast
    there is the AR(1)'s decay from where the window ends; the network alone cannot leave the
    range it saw, the linear part can."""
    rng = np.random.default_rng(0)
    z = np.zeros(3000)
    for t in range(1, len(z)):
        z[t] = 0.9 * z[t - 1] + rng.normal(0, 0.3)
    lookback, horizon = 8, 3
    idx = np.arange(lookback, len(z) - horizon)
    x = torch.tensor(np.stack([z[i - lookback:i] for i in idx]), dtype=torch.float32)
    y = torch.tensor(np.stack([z[i:i + horizon] for i in idx]), dtype=torch.float32)
    far = float(np.abs(z).max()) + 12 * float(z.std())
    x_far = torch.full((1, lookback), far)
    best = far * 0.9 ** torch.arange(1, horizon + 1, dtype=torch.float32)
    errors = {}
    for linear in (0, lookback):
        torch.manual_seed(0)
        net = fit(Forecaster(horizon, 16, linear=linear), x, y)
        with torch.no_grad():
            errors[linear] = float((net.forecast(x_far)[0] - best).abs().mean())
    assert errors[lookback] < 0.25 * far
    assert errors[0] > 0.4 * far
