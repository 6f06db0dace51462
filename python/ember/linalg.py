"""ember.linalg: dense linear algebra on LAPACK (OpenBLAS's, through NumPy).

Factorizations run on the host after one sync; their results enter the lazy
graph as constants plus a *linear term*: for a result ``Y = f(A)`` computed as
``Y0``, Ember returns ``Y0 + J(A0)[A - A0]`` written in graph ops, where
``A - A0`` is exactly zero in value (``A0 = A.detach()``) but carries ``A``'s
autograd history. The value is therefore exactly LAPACK's, and the gradient
(the VJP of the linear term) is the exact first derivative, as torch's
backward formulas give. Second derivatives through these ops are not
supported (the linear term's own derivative is constant).

Batched inputs (``(..., M, N)``) are supported throughout; GPU tensors are
copied to the host for the factorization and the results placed back.
"""

import builtins
from collections import namedtuple

import numpy as np

from ember import _ember as _C
from ember import _decomp as _d

__all__ = ["inv", "inv_ex", "solve", "solve_ex", "det", "slogdet", "cholesky",
           "cholesky_ex", "qr", "svd", "svdvals", "eigh", "eigvalsh", "lstsq", "pinv",
           "matrix_norm", "vector_norm", "norm", "matrix_power", "multi_dot", "vecdot",
           "cross", "cond", "matrix_rank", "diagonal", "solve_triangular"]

_SLogDet = namedtuple("slogdet", ["sign", "logabsdet"])
_QR = namedtuple("qr", ["Q", "R"])
_SVD = namedtuple("svd", ["U", "S", "Vh"])
_Eigh = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_Lstsq = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])
_InvEx = namedtuple("inv_ex", ["inverse", "info"])
_CholeskyEx = namedtuple("cholesky_ex", ["L", "info"])
_SolveEx = namedtuple("solve_ex", ["result", "info"])


def _check_matrix(name, A, square=True):
    if A.dim() < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 "
                           f"dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.{name}: Expected a floating point tensor as input. "
                           f"Got {A.dtype}")


def _array(A):
    a = _d._host(A)
    return a.astype(np.float32 if a.dtype == np.float16 else a.dtype, copy=False)


def _const(array, like):
    """A constant tensor of `like`'s dtype and device."""
    t = _d._from_host(np.asarray(array))
    t = t.to(like.dtype) if t.dtype != like.dtype else t
    return _d._dev(t, like)


def _tracks(*tensors):
    return any(isinstance(t, _C.Tensor) and t.requires_grad for t in tensors)


def _delta(A):
    """A - A.detach(): zero in value, A's history in gradients."""
    return A - A.detach()


def _mT(x):
    return x.transpose(-2, -1)


def _sym(x):
    return (x + _mT(x)) * 0.5


def _eye_like(n, like):
    return _d._dev(_d.eye(n, dtype=like.dtype), like)


def _raise_singular(name):
    raise RuntimeError(f"linalg.{name}: The diagonal element 1 is zero, the inversion "
                       f"could not be completed because the input matrix is singular.")


# ---------------------------------------------------------------------------
# Inverse, solve, determinants
# ---------------------------------------------------------------------------

def inv(A, *, out=None):
    _check_matrix("inv", A)
    try:
        x0 = np.linalg.inv(_array(A))
    except np.linalg.LinAlgError:
        _raise_singular("inv")
    X0 = _const(x0, A)
    if not _tracks(A):
        return _d._out(X0, out)
    return _d._out(X0 - X0 @ _delta(A) @ X0, out)


def inv_ex(A, *, check_errors=False, out=None):
    try:
        return _InvEx(inv(A), _C.zeros(list(A.shape[:-2]), dtype=_C.int32))
    except RuntimeError:
        if check_errors:
            raise
        return _InvEx(_C.full(list(A.shape), float("nan"), dtype=A.dtype),
                      _C.ones(list(A.shape[:-2]), dtype=_C.int32))


def _is_vector_rhs(A, B):
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and
                            tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True, out=None):
    _check_matrix("solve", A)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _d._out(_mT(solve(_mT(A), _mT(B))), out)
    vector = _is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.dim() < 2 or Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the "
                           f"equation AX = B ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{'x'.join(str(d) for d in B.shape)})")
    a, b = _array(A), _array(Bm)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, shape + a.shape[-2:])
    b = np.broadcast_to(b, shape + b.shape[-2:])
    try:
        x0 = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        _raise_singular("solve")
    X0 = _const(x0, A if A.dtype == B.dtype else Bm)
    X = X0
    if _tracks(A, B):
        inv0 = _const(np.linalg.inv(a), A)
        X = X0 + inv0 @ (_delta(Bm) - _delta(A) @ X0)
    return _d._out(X.squeeze(-1) if vector else X, out)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    return _SolveEx(solve(A, B, left=left), _C.zeros(list(A.shape[:-2]), dtype=_C.int32))


def _inverse_transpose_for_gradient(A, a):
    """inv(A)^T as a constant, or the adjugate-free zero where A is singular."""
    try:
        return _const(np.swapaxes(np.linalg.inv(a), -1, -2), A)
    except np.linalg.LinAlgError:
        return _const(np.swapaxes(np.linalg.pinv(a), -1, -2), A)


def det(A, *, out=None):
    _check_matrix("det", A)
    a = _array(A)
    d0 = _const(np.linalg.det(a), A)
    if not _tracks(A):
        return _d._out(d0, out)
    inv_t = _inverse_transpose_for_gradient(A, a)
    return _d._out(d0 + d0 * (inv_t * _delta(A)).sum([-2, -1]), out)


def slogdet(A, *, out=None):
    _check_matrix("slogdet", A)
    a = _array(A)
    sign, logabs = np.linalg.slogdet(a)
    L0 = _const(logabs, A)
    if _tracks(A):
        inv_t = _inverse_transpose_for_gradient(A, a)
        L0 = L0 + (inv_t * _delta(A)).sum([-2, -1])
    return _SLogDet(_const(sign, A), L0)


def logdet(A):
    sign, logabs = slogdet(A)
    return _C.where(sign < 0, float("nan"), _C.where(sign == 0, float("-inf"), logabs))


# ---------------------------------------------------------------------------
# Factorizations
# ---------------------------------------------------------------------------

def cholesky(A, *, upper=False, out=None):
    _check_matrix("cholesky", A)
    try:
        l0 = np.linalg.cholesky(_array(A))
    except np.linalg.LinAlgError:
        raise RuntimeError("linalg.cholesky: The factorization could not be completed "
                           "because the input is not positive-definite.") from None
    L = _const(l0, A)
    if _tracks(A):
        # dL = L Phi(L^-1 dA L^-T), Phi: the lower triangle, half the diagonal.
        linv = _const(np.linalg.inv(l0), A)
        M = linv @ _sym(_delta(A)) @ _mT(linv)
        phi = _d.tril(M) - 0.5 * _d.diag_embed(_d.diagonal(M, 0, -2, -1))
        L = L + L.detach() @ phi
    return _d._out(_mT(L) if upper else L, out)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    try:
        return _CholeskyEx(cholesky(A, upper=upper),
                           _C.zeros(list(A.shape[:-2]), dtype=_C.int32))
    except RuntimeError:
        if check_errors:
            raise
        return _CholeskyEx(_C.zeros(list(A.shape), dtype=A.dtype),
                           _C.ones(list(A.shape[:-2]), dtype=_C.int32))


def qr(A, mode="reduced", *, out=None):
    _check_matrix("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    q0, r0 = np.linalg.qr(_array(A), mode="complete" if mode == "complete" else "reduced")
    Q, R = _const(q0, A), _const(r0, A)
    m, n = A.shape[-2], A.shape[-1]
    if _tracks(A):
        if m < n or (mode == "complete" and m > n):
            raise NotImplementedError("the gradient of qr is implemented for m >= n "
                                      "(reduced or 'r' mode)")
        # Q^T dA R^-1 = Omega (skew) + dR R^-1 (upper).
        rinv = _const(np.linalg.inv(r0), A)
        dA = _delta(A)
        C = _mT(Q) @ dA @ rinv
        lower = _d.tril(C, -1)
        omega = lower - _mT(lower)
        dR = (C - omega) @ R
        dQ = Q @ omega + (dA @ rinv - Q @ (_mT(Q) @ dA @ rinv))
        Q, R = Q + dQ, R + dR
    if mode == "r":
        return _QR(_C.zeros([0], dtype=A.dtype), R)
    return _QR(Q, R)


def _pairwise_inverse_gaps(values, like):
    """F[i, j] = 1 / (values[j] - values[i]) off the diagonal, 0 on it."""
    gaps = values[..., None, :] - values[..., :, None]
    with np.errstate(divide="ignore"):
        F = np.where(gaps == 0, 0.0, 1.0 / np.where(gaps == 0, 1.0, gaps))
    n = values.shape[-1]
    F[..., np.arange(n), np.arange(n)] = 0.0
    return _const(F, like)


def eigh(A, UPLO="L", *, out=None):
    _check_matrix("eigh", A)
    a = _array(A)
    w0, v0 = np.linalg.eigh(a, UPLO=UPLO)
    W, V = _const(w0, A), _const(v0, A)
    if _tracks(A):
        J = _mT(V) @ _sym(_delta(A)) @ V
        W = W + _d.diagonal(J, 0, -2, -1)
        V = V + V @ (_pairwise_inverse_gaps(w0, A) * J)
    return _Eigh(W, V)


def eigvalsh(A, UPLO="L", *, out=None):
    return eigh(A, UPLO).eigenvalues


def svd(A, full_matrices=True, *, driver=None, out=None):
    _check_matrix("svd", A, square=False)
    a = _array(A)
    u0, s0, vh0 = np.linalg.svd(a, full_matrices=full_matrices)
    U, S, Vh = _const(u0, A), _const(s0, A), _const(vh0, A)
    if _tracks(A):
        m, n = A.shape[-2], A.shape[-1]
        k = builtins.min(m, n)
        if full_matrices and m != n:
            raise NotImplementedError("the gradient of svd needs full_matrices=False "
                                      "for non-square inputs")
        dA = _delta(A)
        V = _mT(Vh)
        J = _mT(U) @ dA @ V  # k x k
        S = S + _d.diagonal(J, 0, -2, -1)
        F = _pairwise_inverse_gaps(s0 ** 2, A)
        s_row = S.detach().unsqueeze(-2)
        s_col = S.detach().unsqueeze(-1)
        with np.errstate(divide="ignore"):
            s_inv = _const(np.where(s0 > 0, 1.0 / np.where(s0 > 0, s0, 1.0), 0.0), A)
        dU = U @ (F * (J * s_row + s_col * _mT(J))) + \
            (dA @ V - U @ J) * s_inv.unsqueeze(-2)
        dV = V @ (F * (s_col * J + _mT(J) * s_row)) + \
            (_mT(dA) @ U - V @ _mT(J)) * s_inv.unsqueeze(-2)
        U = U + dU[..., :, :k] if U.shape[-1] == k else U + dU
        Vh = Vh + _mT(dV)
    return _SVD(U, S, Vh)


def svdvals(A, *, driver=None, out=None):
    _check_matrix("svdvals", A, square=False)
    a = _array(A)
    u0, s0, vh0 = np.linalg.svd(a, full_matrices=False)
    S = _const(s0, A)
    if _tracks(A):
        S = S + _d.diagonal(_const(np.swapaxes(u0, -1, -2), A) @ _delta(A) @
                            _const(np.swapaxes(vh0, -1, -2), A), 0, -2, -1)
    return _d._out(S, out)


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None, rcond=None):
    _check_matrix("pinv", A, square=False)
    if hermitian:  # only the lower triangle is read
        A = _d.tril(A) + _mT(_d.tril(A, -1))
    U, S, Vh = svd(A, full_matrices=False)
    s = _d._host(S.detach())
    if rcond is not None and rtol is None:
        rtol = rcond
    if rtol is None:
        rtol = 0.0 if atol else builtins.max(A.shape[-2:]) * np.finfo(
            np.float32 if A.dtype == _C.float32 else np.float64).eps
    cutoff = np.maximum(atol or 0.0, rtol * s.max(axis=-1, keepdims=True)) \
        if s.size else np.zeros(s.shape)
    keep = _const((s > cutoff).astype(np.float64), A)
    s_inv = keep / _C.where(keep > 0, S, 1.0)
    return _d._out((_mT(Vh) * s_inv.unsqueeze(-2)) @ _mT(U), out)


def lstsq(A, B, rcond=None, *, driver=None):
    _check_matrix("lstsq", A, square=False)
    vector = B.dim() == A.dim() - 1
    Bm = B.unsqueeze(-1) if vector else B
    X = pinv(A) @ Bm
    a = _array(A)
    # torch's default CPU driver (gelsy) reports neither residuals nor
    # singular values, and no rank for a batch.
    return _Lstsq(X.squeeze(-1) if vector else X, _C.zeros([0], dtype=A.dtype),
                  _C.zeros([0], dtype=_C.int64), _C.zeros([0], dtype=A.dtype))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    T = _d.triu(A) if upper else _d.tril(A)
    if unitriangular:
        n = A.shape[-1]
        T = T - _d.diag_embed(_d.diagonal(T, 0, -2, -1)) + _eye_like(n, A)
    return _d._out(solve(T, B, left=left), out)


# ---------------------------------------------------------------------------
# Norms and products
# ---------------------------------------------------------------------------

def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    return _d._out(_d.norm(x if dtype is None else x.to(dtype), ord, dim, keepdim), out)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    x = A if dtype is None else A.to(dtype)
    d0, d1 = (_d._wrap(d, x.dim()) for d in dim)
    if ord == "fro":
        result = _d.norm(x, 2, [d0, d1], keepdim)
    elif ord in ("nuc", 2, -2):
        moved = _d.movedim(x, [d0, d1], [-2, -1])
        s = svdvals(moved)
        result = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            result = result.unsqueeze(builtins.min(d0, d1)).unsqueeze(builtins.max(d0, d1))
    elif ord in (1, -1, float("inf"), float("-inf")):
        summed = _C.abs(x).sum(d0 if ord in (1, -1) else d1, keepdim=True)
        other = d1 if ord in (1, -1) else d0
        result = summed.amax(other, keepdim=True) if ord in (1, float("inf")) else \
            summed.amin(other, keepdim=True)
        if not keepdim:
            result = result.squeeze(builtins.max(d0, d1)).squeeze(builtins.min(d0, d1))
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return _d._out(result, out)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return _d._out(matrix_norm(A, "fro", dim, keepdim, dtype=dtype), out)
        return _d._out(vector_norm(A, 2, dim, keepdim, dtype=dtype), out)
    if (dim is not None and len(dim) == 2) or (dim is None and A.dim() == 2):
        return _d._out(matrix_norm(A, ord, dim or (-2, -1), keepdim, dtype=dtype), out)
    if dim is None and A.dim() != 1:
        raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input "
                           "must be 1D or 2D.")
    return _d._out(vector_norm(A, ord, dim, keepdim, dtype=dtype), out)


def cond(A, p=None, *, out=None):
    if p is None or p in (2, -2):
        s = svdvals(A)
        ratio = s.amax(-1) / s.amin(-1)
        return _d._out(ratio if p != -2 else 1.0 / ratio, out)
    return _d._out(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None, tol=None):
    a = _array(A)
    s = np.linalg.svd(a, compute_uv=False)
    if tol is not None:
        atol = tol
    if rtol is None:
        rtol = 0.0 if atol else builtins.max(a.shape[-2:]) * np.finfo(a.dtype).eps
    cutoff = np.maximum(atol or 0.0, rtol * (s.max(axis=-1, keepdims=True) if s.size
                                             else 0.0))
    return _d._out(_d._dev(_d._from_host((s > cutoff).sum(-1).astype(np.int64)), A), out)


def matrix_power(A, n):
    _check_matrix("matrix_power", A) if A.is_floating_point() else None
    if n == 0:
        return _eye_like(A.shape[-1], A).expand(list(A.shape))
    base = inv(A) if n < 0 else A
    result = None
    k = abs(n)
    while k:
        if k & 1:
            result = base if result is None else result @ base
        k >>= 1
        if k:
            base = base @ base
    return result


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    first_vector = tensors[0].dim() == 1
    last_vector = tensors[-1].dim() == 1
    if first_vector:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_vector:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    result = tensors[0]
    for t in tensors[1:]:
        result = result @ t
    if first_vector:
        result = result.squeeze(0)
    if last_vector:
        result = result.squeeze(-1)
    return _d._out(result, out)


def vecdot(x, y, *, dim=-1, out=None):
    return _d._out((x * y).sum(dim), out)


def cross(input, other, *, dim=-1, out=None):
    return _d._out(_d.cross(input, other, dim), out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _d.diagonal(A, offset, dim1, dim2)


def vander(x, *, N=None):
    n = x.shape[-1] if N is None else N
    powers = _d._dev(_C.arange(n), x)
    return _C.pow(x.unsqueeze(-1), powers.to(x.dtype) if x.is_floating_point() else powers)


# ---------------------------------------------------------------------------
# torch.* spellings
# ---------------------------------------------------------------------------

def _torch_svd(input, some=True, compute_uv=True, *, out=None):
    U, S, Vh = svd(input, full_matrices=not some)
    return namedtuple("svd", ["U", "S", "V"])(U, S, _mT(Vh))


def _torch_qr(input, some=True, *, out=None):
    return qr(input, "reduced" if some else "complete")


def _torch_cholesky(input, upper=False, *, out=None):
    return cholesky(input, upper=upper)


def _cholesky_solve(B, L, upper=False, *, out=None):
    A = (_mT(L) @ L) if upper else (L @ _mT(L))
    return _d._out(solve(A, B), out)


def _cholesky_inverse(L, upper=False, *, out=None):
    A = (_mT(L) @ L) if upper else (L @ _mT(L))
    return _d._out(inv(A), out)


TORCH_FUNCTIONS = {
    "inverse": inv, "det": det, "logdet": logdet, "slogdet": slogdet,
    "pinverse": lambda input, rcond=1e-15: pinv(input, rcond=rcond),
    "matrix_power": matrix_power, "svd": _torch_svd, "qr": _torch_qr,
    "cholesky": _torch_cholesky, "cholesky_solve": _cholesky_solve,
    "cholesky_inverse": _cholesky_inverse, "chain_matmul": lambda *m: multi_dot(m),
    "vander": lambda x, N=None, increasing=False: vander(x, N=N) if increasing
    else _d.flip(vander(x, N=N), [-1]),
}
TENSOR_METHODS = ["inverse", "det", "logdet", "slogdet", "pinverse", "matrix_power",
                  "svd", "qr", "cholesky", "cholesky_solve", "cholesky_inverse"]


# Errors surface at the user's line (the trampoline drops this module's
# frames), as for ops bound from C++.
for _name in __all__ + ["logdet"]:
    globals()[_name] = _C._surface(globals()[_name], _name)
TORCH_FUNCTIONS = {name: _C._surface(fn, name) for name, fn in TORCH_FUNCTIONS.items()}
