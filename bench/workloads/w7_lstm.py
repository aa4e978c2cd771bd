"""W7: LSTM over a short sequence (ADBench definition: l layers of the ADBench diagonal LSTM,
b = 14 bits per character, c characters), gradient wrt main_params and extra_params."""
import numpy as np

TITLE = "LSTM (ADBench)"
REFERENCE = "numpy"
LOOPS = True
MEMORY = False


def variants(quick):
    return ["l=2,c=8"] if quick else ["l=2,c=100"]


def setup(variant):
    n_layers, c = (int(p.split("=")[1]) for p in variant.split(","))
    b = 14
    rng = np.random.default_rng(7)
    main_params = rng.standard_normal((2 * n_layers, 4 * b)) * 0.5
    extra_params = rng.standard_normal((3, b)) * 0.5
    state = rng.standard_normal((2 * n_layers, b)) * 0.5
    sequence = rng.standard_normal((c, b))
    return (main_params, extra_params, state, sequence), (0, 1)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def primal(main_params, extra_params, state, sequence):
    c, b = sequence.shape
    n_layers = main_params.shape[0] // 2
    s = state.copy()
    total = 0.0
    inp = sequence[0]
    for t in range(c - 1):
        x = inp * extra_params[0]
        for j in range(n_layers):
            hidden = s[2 * j]
            cell = s[2 * j + 1]
            gates = np.concatenate((x, hidden, x, hidden)) * main_params[2 * j] + main_params[
                2 * j + 1]
            forget = sigmoid(gates[0:b])
            ingate = sigmoid(gates[b:2 * b])
            outgate = sigmoid(gates[2 * b:3 * b])
            change = np.tanh(gates[3 * b:])
            cell = cell * forget + ingate * change
            hidden = outgate * np.tanh(cell)
            s[2 * j] = hidden
            s[2 * j + 1] = cell
            x = hidden
        ypred = x * extra_params[1] + extra_params[2]
        ynorm = ypred - np.log(np.sum(np.exp(ypred)) + 2)
        total = total + np.sum(sequence[t + 1] * ynorm)
        inp = sequence[t + 1]
    return -total / ((c - 1) * b)


def grad_numpy(main_params, extra_params, state, sequence):
    c, b = sequence.shape
    nl = main_params.shape[0] // 2
    T = c - 1
    xs = np.empty((T, nl, 4 * b))      # the concatenated gate inputs
    cprev = np.empty((T, nl, b))
    acts = np.empty((T, nl, 4 * b))    # forget, ingate, outgate, change
    tcs = np.empty((T, nl, b))         # tanh of the new cell
    probs = np.empty((T, b))
    s = state.copy()
    for t in range(T):
        x = sequence[t] * extra_params[0]
        for j in range(nl):
            h = s[2 * j]
            xs[t, j] = np.concatenate((x, h, x, h))
            cprev[t, j] = s[2 * j + 1]
            gates = xs[t, j] * main_params[2 * j] + main_params[2 * j + 1]
            a = 1.0 / (1.0 + np.exp(-gates))
            a[3 * b:] = np.tanh(gates[3 * b:])
            acts[t, j] = a
            cell = cprev[t, j] * a[0:b] + a[b:2 * b] * a[3 * b:]
            tcs[t, j] = np.tanh(cell)
            hidden = a[2 * b:3 * b] * tcs[t, j]
            s[2 * j] = hidden
            s[2 * j + 1] = cell
            x = hidden
        ey = np.exp(x * extra_params[1] + extra_params[2])
        probs[t] = ey / (np.sum(ey) + 2)
    dtotal = -1.0 / (T * b)
    dmain = np.zeros_like(main_params)
    dextra = np.zeros_like(extra_params)
    dh = np.zeros((nl, b))
    dc = np.zeros((nl, b))
    dgates = np.empty(4 * b)
    for t in range(T - 1, -1, -1):
        y = sequence[t + 1]
        dypred = dtotal * (y - np.sum(y) * probs[t])
        xtop = acts[t, nl - 1, 2 * b:3 * b] * tcs[t, nl - 1]
        dextra[1] += dypred * xtop
        dextra[2] += dypred
        dx = dypred * extra_params[1]
        for j in range(nl - 1, -1, -1):
            a = acts[t, j]
            f, i, o, g = a[0:b], a[b:2 * b], a[2 * b:3 * b], a[3 * b:]
            dhid = dh[j] + dx
            tc = tcs[t, j]
            dcell = dc[j] + dhid * o * (1 - tc * tc)
            dgates[0:b] = dcell * cprev[t, j] * f * (1 - f)
            dgates[b:2 * b] = dcell * g * i * (1 - i)
            dgates[2 * b:3 * b] = dhid * tc * o * (1 - o)
            dgates[3 * b:] = dcell * i * (1 - g * g)
            dmain[2 * j] += dgates * xs[t, j]
            dmain[2 * j + 1] += dgates
            dcat = dgates * main_params[2 * j]
            dx = dcat[0:b] + dcat[2 * b:3 * b]
            dh[j] = dcat[b:2 * b] + dcat[3 * b:]
            dc[j] = dcell * f
        dextra[0] += dx * sequence[t]
    return dmain, dextra


def numba_impl():
    import numba

    grad_nb = numba.njit(grad_numpy)

    @numba.njit
    def primal_nb(main_params, extra_params, state, sequence):
        c, b = sequence.shape
        n_layers = main_params.shape[0] // 2
        s = state.copy()
        total = 0.0
        inp = sequence[0]
        for t in range(c - 1):
            x = inp * extra_params[0]
            for j in range(n_layers):
                hidden = s[2 * j]
                gates = np.concatenate((x, hidden, x, hidden)) * main_params[2 * j] + \
                    main_params[2 * j + 1]
                a = 1.0 / (1.0 + np.exp(-gates))
                cell = s[2 * j + 1] * a[0:b] + a[b:2 * b] * np.tanh(gates[3 * b:])
                hidden = a[2 * b:3 * b] * np.tanh(cell)
                s[2 * j] = hidden
                s[2 * j + 1] = cell
                x = hidden
            ypred = x * extra_params[1] + extra_params[2]
            total = total + np.sum(sequence[t + 1] * (ypred - np.log(np.sum(np.exp(ypred)) + 2)))
            inp = sequence[t + 1]
        return -total / ((c - 1) * b)

    return primal_nb, grad_nb


def autograd_impl(np):
    """autograd has no element writes: the state is kept in lists, as its users do."""
    def sig(x):
        return 1.0 / (1.0 + np.exp(-x))

    def f(main_params, extra_params, state, sequence):
        c, b = sequence.shape
        n_layers = main_params.shape[0] // 2
        hs = [state[2 * j] for j in range(n_layers)]
        cs = [state[2 * j + 1] for j in range(n_layers)]
        total = 0.0
        inp = sequence[0]
        for t in range(c - 1):
            x = inp * extra_params[0]
            for j in range(n_layers):
                gates = np.concatenate((x, hs[j], x, hs[j])) * main_params[2 * j] + \
                    main_params[2 * j + 1]
                cs[j] = cs[j] * sig(gates[0:b]) + sig(gates[b:2 * b]) * np.tanh(gates[3 * b:])
                hs[j] = sig(gates[2 * b:3 * b]) * np.tanh(cs[j])
                x = hs[j]
            ypred = x * extra_params[1] + extra_params[2]
            total = total + np.sum(sequence[t + 1] * (ypred - np.log(np.sum(np.exp(ypred)) + 2)))
            inp = sequence[t + 1]
        return -total / ((c - 1) * b)

    return f


def jax_impl(jnp):
    """JAX: the state update as ``s.at[i].set(...)``."""
    def sig(x):
        return 1.0 / (1.0 + jnp.exp(-x))

    def f(main_params, extra_params, state, sequence):
        c, b = sequence.shape
        n_layers = main_params.shape[0] // 2
        s = state
        total = 0.0
        inp = sequence[0]
        for t in range(c - 1):
            x = inp * extra_params[0]
            for j in range(n_layers):
                gates = jnp.concatenate((x, s[2 * j], x, s[2 * j])) * main_params[2 * j] + \
                    main_params[2 * j + 1]
                cell = s[2 * j + 1] * sig(gates[0:b]) + sig(gates[b:2 * b]) * jnp.tanh(
                    gates[3 * b:])
                hidden = sig(gates[2 * b:3 * b]) * jnp.tanh(cell)
                s = s.at[2 * j].set(hidden).at[2 * j + 1].set(cell)
                x = hidden
            ypred = x * extra_params[1] + extra_params[2]
            ynorm = ypred - jnp.log(jnp.sum(jnp.exp(ypred)) + 2)
            total = total + jnp.sum(sequence[t + 1] * ynorm)
            inp = sequence[t + 1]
        return -total / ((c - 1) * b)

    return f


def torch_impl(torch):
    def sig(x):
        return torch.sigmoid(x)

    def f(main_params, extra_params, state, sequence):
        c, b = sequence.shape
        n_layers = main_params.shape[0] // 2
        s = state.clone()
        total = 0.0
        inp = sequence[0]
        for t in range(c - 1):
            x = inp * extra_params[0]
            for j in range(n_layers):
                gates = torch.cat((x, s[2 * j], x, s[2 * j])) * main_params[2 * j] + \
                    main_params[2 * j + 1]
                cell = s[2 * j + 1] * sig(gates[0:b]) + sig(gates[b:2 * b]) * torch.tanh(
                    gates[3 * b:])
                hidden = sig(gates[2 * b:3 * b]) * torch.tanh(cell)
                s = s.clone()
                s[2 * j] = hidden
                s[2 * j + 1] = cell
                x = hidden
            ypred = x * extra_params[1] + extra_params[2]
            total = total + torch.sum(
                sequence[t + 1] * (ypred - torch.log(torch.sum(torch.exp(ypred)) + 2)))
            inp = sequence[t + 1]
        return -total / ((c - 1) * b)

    return f
