"""W6: Gaussian mixture model objective (ADBench / GradBench GMM definition).

icf holds, per component, the log of the diagonal of the inverse-covariance factor followed by
its strictly lower triangle column by column; the gradient is wrt alphas, means and icf.
"""
import math

import numpy as np

TITLE = "GMM objective"
REFERENCE = "numpy"
LOOPS = False
MEMORY = False


def variants(quick):
    return ["n=1000,k=5,d=2"] if quick else ["n=1000,k=5,d=2", "n=1000,k=25,d=10"]


def setup(variant):
    n, k, d = (int(p.split("=")[1]) for p in variant.split(","))
    rng = np.random.default_rng(6)
    alphas = rng.standard_normal(k)
    means = rng.random((k, d))
    icf = rng.standard_normal((k, d + d * (d - 1) // 2)) * 0.5
    x = rng.random((n, d))
    gamma, m = 1.0, 0
    # tri_idx[i * d + j] = column of icf holding L[i, j] (strictly lower part, column-major)
    tri_idx = np.zeros(d * d, dtype=np.int64)
    tri_mask = np.zeros((d, d))
    p = d
    for j in range(d):
        for i in range(j + 1, d):
            tri_idx[i * d + j] = p
            tri_mask[i, j] = 1.0
            p += 1
    half = 0.5 * (d + m + 1)
    log_gamma_const = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(half - 0.5 * j) for j in range(d))  # multigammaln(half, d)
    return (alphas, means, icf, x, gamma, m, tri_idx, tri_mask, log_gamma_const), (0, 1, 2)


def primal(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, log_gamma_const):
    n, d = x.shape
    k = means.shape[0]
    qdiags = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    Ls = icf[:, tri_idx].reshape(k, d, d) * tri_mask
    xc = x[:, None, :] - means[None, :, :]
    Lxc = qdiags * xc + np.sum(Ls * xc[:, :, None, :], axis=3)
    inner = alphas + sum_qs - 0.5 * np.sum(Lxc * Lxc, axis=2)
    mx = np.max(inner, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(inner - mx), axis=1)) + mx[:, 0]
    amax = np.max(alphas)
    lse_alphas = np.log(np.sum(np.exp(alphas - amax))) + amax
    const = -n * d * 0.5 * math.log(2 * math.pi)
    frob = np.sum(qdiags * qdiags, axis=1) + np.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = np.sum(0.5 * gamma * gamma * frob - m * sum_qs)
    C = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2)) - log_gamma_const
    return const + np.sum(lse) - n * lse_alphas + prior - k * C


def grad_numpy(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, log_gamma_const):
    n, d = x.shape
    k = means.shape[0]
    qdiags = np.exp(icf[:, :d])
    sum_qs = np.sum(icf[:, :d], axis=1)
    Ls = icf[:, tri_idx].reshape(k, d, d) * tri_mask
    xc = x[:, None, :] - means[None, :, :]
    Lxc = qdiags * xc + np.matmul(xc[:, :, None, :], Ls.transpose(0, 2, 1))[:, :, 0, :]
    inner = alphas + sum_qs - 0.5 * np.sum(Lxc * Lxc, axis=2)
    e = np.exp(inner - np.max(inner, axis=1, keepdims=True))
    w = e / np.sum(e, axis=1, keepdims=True)
    ea = np.exp(alphas - np.max(alphas))
    wsum = np.sum(w, axis=0)
    dalphas = wsum - n * ea / np.sum(ea)
    dsum_qs = wsum - m
    dLxc = -w[:, :, None] * Lxc
    dq = np.sum(dLxc * xc, axis=0) + gamma * gamma * qdiags
    dL = np.matmul(dLxc.transpose(1, 2, 0), xc.transpose(1, 0, 2))
    dxc = qdiags * dLxc + np.matmul(dLxc[:, :, None, :], Ls)[:, :, 0, :]
    dmeans = -np.sum(dxc, axis=0)
    dicf = np.empty_like(icf)
    dicf[:, :d] = dq * qdiags + dsum_qs[:, None]
    lower = tri_mask.ravel() > 0
    dicf[:, tri_idx[lower]] = dL.reshape(k, d * d)[:, lower]
    dicf[:, d:] += gamma * gamma * icf[:, d:]
    return dalphas, dmeans, dicf


def numba_impl():
    import numba

    @numba.njit
    def gmm_nb(alphas, means, icf, x, gamma, m, tri_idx, log_gamma_const, do_grad):
        n, d = x.shape
        k = means.shape[0]
        Ls = np.zeros((k, d, d))
        qd = np.exp(icf[:, :d])
        sum_qs = np.zeros(k)
        for kk in range(k):
            for i in range(d):
                sum_qs[kk] += icf[kk, i]
                for j in range(i):
                    Ls[kk, i, j] = icf[kk, tri_idx[i * d + j]]
        dmeans = np.zeros((k, d))
        dq = np.zeros((k, d))
        dL = np.zeros((k, d, d))
        wsum = np.zeros(k)
        xc = np.empty((k, d))
        lxc = np.empty((k, d))
        inner = np.empty(k)
        dl = np.empty(d)
        total = 0.0
        for ni in range(n):
            for kk in range(k):
                sq = 0.0
                for i in range(d):
                    xc[kk, i] = x[ni, i] - means[kk, i]
                for i in range(d):
                    v = qd[kk, i] * xc[kk, i]
                    for j in range(i):
                        v += Ls[kk, i, j] * xc[kk, j]
                    lxc[kk, i] = v
                    sq += v * v
                inner[kk] = alphas[kk] + sum_qs[kk] - 0.5 * sq
            mx = inner.max()
            e = np.exp(inner - mx)
            se = e.sum()
            total += math.log(se) + mx
            if do_grad:
                for kk in range(k):
                    wk = e[kk] / se
                    wsum[kk] += wk
                    for i in range(d):
                        dl[i] = -wk * lxc[kk, i]
                        dq[kk, i] += dl[i] * xc[kk, i]
                        for j in range(i):
                            dL[kk, i, j] += dl[i] * xc[kk, j]
                    for j in range(d):
                        v = qd[kk, j] * dl[j]
                        for i in range(j + 1, d):
                            v += Ls[kk, i, j] * dl[i]
                        dmeans[kk, j] -= v
        amax = alphas.max()
        ea = np.exp(alphas - amax)
        lse_alphas = math.log(ea.sum()) + amax
        frob = 0.0
        for kk in range(k):
            for i in range(icf.shape[1]):
                frob += (qd[kk, i] if i < d else icf[kk, i]) ** 2
        prior = 0.5 * gamma * gamma * frob - m * sum_qs.sum()
        C = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2)) - log_gamma_const
        value = -n * d * 0.5 * math.log(2 * math.pi) + total - n * lse_alphas + prior - k * C
        dalphas = wsum - n * ea / ea.sum()
        dicf = np.empty_like(icf)
        for kk in range(k):
            for i in range(d):
                dicf[kk, i] = (dq[kk, i] + gamma * gamma * qd[kk, i]) * qd[kk, i] + wsum[kk] - m
                for j in range(i):
                    p = tri_idx[i * d + j]
                    dicf[kk, p] = dL[kk, i, j] + gamma * gamma * icf[kk, p]
        return value, dalphas, dmeans, dicf

    def primal_nb(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, lgc):
        return gmm_nb(alphas, means, icf, x, gamma, m, tri_idx, lgc, False)[0]

    def grad_nb(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, lgc):
        return gmm_nb(alphas, means, icf, x, gamma, m, tri_idx, lgc, True)[1:]

    return primal_nb, grad_nb


def generic(np):
    """autograd and JAX: the same code with their NumPy."""

    def f(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, log_gamma_const):
        n, d = x.shape
        k = means.shape[0]
        qdiags = np.exp(icf[:, :d])
        sum_qs = np.sum(icf[:, :d], axis=1)
        Ls = icf[:, tri_idx].reshape(k, d, d) * tri_mask
        xc = x[:, None, :] - means[None, :, :]
        Lxc = qdiags * xc + np.sum(Ls * xc[:, :, None, :], axis=3)
        inner = alphas + sum_qs - 0.5 * np.sum(Lxc * Lxc, axis=2)
        mx = np.max(inner, axis=1, keepdims=True)
        lse = np.log(np.sum(np.exp(inner - mx), axis=1)) + mx[:, 0]
        amax = np.max(alphas)
        lse_alphas = np.log(np.sum(np.exp(alphas - amax))) + amax
        const = -n * d * 0.5 * math.log(2 * math.pi)
        frob = np.sum(qdiags * qdiags, axis=1) + np.sum(icf[:, d:] * icf[:, d:], axis=1)
        prior = np.sum(0.5 * gamma * gamma * frob - m * sum_qs)
        C = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2)) - log_gamma_const
        return const + np.sum(lse) - n * lse_alphas + prior - k * C

    return f


autograd_impl = jax_impl = generic


def torch_impl(torch):
    def f(alphas, means, icf, x, gamma, m, tri_idx, tri_mask, log_gamma_const):
        n, d = x.shape
        k = means.shape[0]
        qdiags = torch.exp(icf[:, :d])
        sum_qs = torch.sum(icf[:, :d], dim=1)
        Ls = icf[:, tri_idx].reshape(k, d, d) * tri_mask
        xc = x[:, None, :] - means[None, :, :]
        Lxc = qdiags * xc + torch.sum(Ls * xc[:, :, None, :], dim=3)
        inner = alphas + sum_qs - 0.5 * torch.sum(Lxc * Lxc, dim=2)
        const = -n * d * 0.5 * math.log(2 * math.pi)
        frob = torch.sum(qdiags * qdiags, dim=1) + torch.sum(icf[:, d:] * icf[:, d:], dim=1)
        prior = torch.sum(0.5 * gamma * gamma * frob - m * sum_qs)
        C = (d + m + 1) * d * (math.log(gamma) - 0.5 * math.log(2)) - log_gamma_const
        return (const + torch.sum(torch.logsumexp(inner, dim=1))
                - n * torch.logsumexp(alphas, dim=0) + prior - k * C)

    return f
