"""F.interpolate / nn.Upsample modes 'bicubic' (torch's A = -0.75 cubic
convolution, border clamping, align_corners both ways) and 'trilinear'
against PyTorch 1.13: outputs and input gradients on random inputs."""

import numpy as np
import pytest
import torch

import ember

TOL = {"float32": (2e-5, 1e-5), "float64": (1e-12, 1e-12)}

CASES = [
    ((2, 3, 5, 7), {"size": (9, 4)}),
    ((1, 2, 6, 6), {"scale_factor": 1.7}),
    ((1, 1, 4, 5), {"scale_factor": (2.5, 0.6)}),
    ((1, 1, 4, 5), {"scale_factor": 2.0, "recompute_scale_factor": True}),
    ((2, 2, 3, 3), {"size": (1, 8)}),
    ((1, 2, 2, 9), {"size": (5, 3)}),
]


def compare(rng, dtype, shape, kwargs):
    x = rng.standard_normal(shape).astype(dtype)
    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ye = ember.nn.functional.interpolate(xe, **kwargs)
    yt = torch.nn.functional.interpolate(xt, **kwargs)
    assert tuple(ye.shape) == tuple(yt.shape)
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    (ye * ember.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,kwargs", CASES)
def test_bicubic(rng, shape, kwargs, align_corners, dtype):
    compare(rng, dtype, shape, dict(kwargs, mode="bicubic", align_corners=align_corners))


def test_bicubic_of_a_constant_overshoots_nowhere_and_edges_clamp(rng):
    # Border clamping repeats the edge sample, so a constant stays constant
    # (the weights sum to 1), and a step overshoots as torch's does.
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[..., 2:] = 1.0
    compare(rng, "float32", x.shape, {"size": (7, 11), "mode": "bicubic"})
    y = ember.nn.functional.interpolate(ember.full((1, 1, 3, 4), 2.5), size=(8, 9),
                                        mode="bicubic")
    np.testing.assert_allclose(y.numpy(), 2.5, rtol=1e-6)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,kwargs", [
    ((2, 2, 3, 4, 5), {"size": (5, 2, 7)}),
    ((1, 3, 2, 3, 3), {"scale_factor": (1.5, 2.0, 0.7)}),
    ((1, 1, 4, 4, 4), {"scale_factor": 1.3}),
])
def test_trilinear(rng, shape, kwargs, align_corners):
    compare(rng, "float32", shape, dict(kwargs, mode="trilinear", align_corners=align_corners))


@pytest.mark.parametrize("mode,rank", [("bicubic", 3), ("bicubic", 5), ("trilinear", 4)])
def test_wrong_rank_raises_as_torch(mode, rank):
    shape = (1, 1) + (4,) * (rank - 2)
    with pytest.raises(NotImplementedError) as theirs:
        torch.nn.functional.interpolate(torch.zeros(shape), scale_factor=2.0, mode=mode)
    with pytest.raises(NotImplementedError) as mine:
        ember.nn.functional.interpolate(ember.zeros(shape), scale_factor=2.0, mode=mode)
    assert mode in str(mine.value) and mode in str(theirs.value)


@pytest.mark.parametrize("mode,shape", [("bicubic", (2, 3, 4, 5)), ("trilinear", (1, 2, 3, 4, 5))])
def test_upsample_module(rng, mode, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    for align_corners in (False, True):
        me = ember.nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners)
        mt = torch.nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners)
        assert repr(me) == repr(mt)
        xe = ember.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ye, yt = me(xe), mt(xt)
        ye.square().sum().backward()
        yt.square().sum().backward()
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=2e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=2e-5, atol=1e-5)
