"""Functions that write through views and aliases, the way simulation and PDE code does.

Each is differentiated by tests/test_aliasing.py and compared with the function itself (the
value, bit for bit) and with central differences (the gradient), or must be refused with a
located AdjointError."""
import numpy as np


# -- writes through a row view: rewritten as writes into the base array ---------------------
def row_view(A):
    r = A[0]
    r *= 2.0
    return np.sum(A * A)


def row_view_element(A):
    r = A[0]
    r[0] = 5.0 * A[1, 1]
    return np.sum(A * A)


def row_view_slice_write(A):
    r = A[0]
    r[:] = A[1] * 3.0
    return np.sum(A * A)


def row_view_read_after(A):
    r = A[1]
    r += A[0]
    return np.sum(r * A[0]) + np.sum(A)


def row_loop(A):
    for row in A:
        row *= 2.0
    return np.sum(A * A)


def row_loop_enumerate(A):
    for i, row in enumerate(A):
        row *= 2.0 + i
    return np.sum(A * A)


def row_loop_zip(A, B):
    for a, b in zip(A, B):
        a += b * b
    return np.sum(A * A) + np.sum(B)


def row_loop_copy(A):
    C = A.copy()
    for row in C:
        row *= 2.0
    return np.sum(C * A)


def row_loop_elements(A):
    for row in A:
        for j in range(1, row.shape[0]):
            row[j] = row[j] + 0.5 * row[j - 1] * row[j - 1]
    return np.sum(A)


def vector_loop_scalars(x):
    # rows of a vector are numbers: x itself does not change
    for v in x:
        v *= 3.0
    return np.sum(x * x)


def slice_view(u):
    inner = u[1:-1]
    inner *= 0.5
    inner[0] = u[0] * u[-1]
    return np.sum(u * u)


def view_of_view(A):
    r = A[1]
    s = r[1:]
    s *= 3.0
    return np.sum(A * A)


def row_write_in_branch(A, c):
    r = A[0]
    if c > 0:
        r *= c
    else:
        r[1] = c
    return np.sum(A * A)


# -- double buffering: a fresh array every step --------------------------------------------
def heat_double_buffer(u0, kappa):
    n = u0.shape[0]
    u = u0.copy()
    for step in range(4):
        v = np.zeros(n)
        for i in range(1, n - 1):
            v[i] = u[i] + kappa * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = v
    return np.sum(u * u)


def swap_buffers(x):
    a = x.copy()
    b = np.zeros(x.shape[0])
    for step in range(3):
        for i in range(x.shape[0]):
            b[i] = np.sin(a[i]) + a[i]
        a, b = b, a
    return np.sum(a * a)


# -- repeated indices: NumPy keeps the last write -----------------------------------------
def repeated_list_index(x):
    out = np.zeros(3)
    out[[0, 0, 1]] = x
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_list_index_add(x):
    out = np.zeros(3)
    out[[0, 0, 1]] += x
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_array_index(x):
    out = np.ones(3)
    out[np.array([2, 0, 2])] = x * x
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_scalar_write(x, s):
    out = x.copy()
    out[[1, 1]] = s * s
    return np.sum(out * out)


def list_index_read(x):
    return np.sum(x[[0, 0, 2]] * x[[1, 2, 2]])


# -- refused: the memory is shared with something read later -------------------------------
def list_alias(x):
    hs = []
    hs.append(x)
    x[0] = 5.0
    return np.sum(hs[0] * hs[0])


def first_half(v):
    return v[:2]


def helper_view(y):
    z = first_half(y)
    z *= 2.0
    return np.sum(y * y)


def helper_copy(y):
    # the helper returns a new array: writing into it is fine
    z = twice_copy(y)
    z[0] = 1.0
    return np.sum(z * y)


def twice_copy(v):
    return 2.0 * v


def reshape_alias(x):
    y = x.reshape(2, 2)
    y[0, 0] = 7.0
    return np.sum(x * x)


def written_twice(x, y):
    x[0] = 5.0 * y[1]
    return np.sum(x * y) + np.sum(y * y)


def augmented_twice(x, y):
    x += y
    return np.sum(x * y)


# -- helpers that change their arguments in place -------------------------------------------
def scale_in_place(v):
    v *= 2.0
    return np.sum(v)


def set_first(v, value):
    v[0] = value
    return v[1]


def calls_a_scaling_helper(x):
    y = x.copy()
    s = scale_in_place(y)
    return s + np.sum(y * y)


def calls_a_writing_helper(x):
    y = x * 1.0
    t = set_first(y, x[2])
    return t + np.sum(y * y)


def calls_a_writing_helper_last(x):
    # y is not read after the call: the helper's write is invisible
    y = x * 1.0
    t = set_first(y, x[2] * 3.0)
    return t * x[0]


def calls_scaling_on_a_float(x):
    s = float(np.sum(x)) * 1.0
    r = scale_in_place(s)
    return r + s * x[0]


# -- entries read as numbers before a write: copies, not views ------------------------------
def scalar_read_then_write(A):
    s = A[0, 1]
    A[0, 1] = 5.0 * A[1, 0]
    return s * np.sum(A)


def vector_entry_then_write(x):
    s = x[0]
    x[0] = 3.0 * x[1]
    return s * x[0] + np.sum(x)


def row_or_number_then_write(A):
    r = A[1]
    A[1] = A[0] * 2.0
    return np.sum(r * r)


def element_scaled_through_row(x0, m0):
    # found by the fuzzer under hvp: the entry read before the write is a number
    r5 = m0[0]
    r5[2] *= x0
    return np.sum(np.array([0.7, -1.2, 0.4]) * r5) + np.sum(m0)


def element_scaled_through_row_wrt_matrix(m0, x0):
    r5 = m0[0]
    r5[2] *= x0
    return np.sum(np.array([0.7, -1.2, 0.4]) * r5 * x0) + np.sum(m0)


# -- an array written with itself (found by the fuzzer) --------------------------------------
def written_with_itself(a0):
    out = a0 * 1.0
    out[[0, 1, 2]] = out
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def permuted_with_itself(a0):
    out = a0 * 1.0
    out[[2, 1, 0]] = out
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_with_itself(a0):
    out = a0 * 1.0
    out[[0, 0, 2]] = out
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def sliced_with_itself(a0):
    out = a0 * 1.0
    out[:] = out
    out[1:] = out[1:] * out[0]
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


# -- found by the fuzzer: precision --------------------------------------------------------
def base_scaled_under_row_view(m0):
    r = m0[0]
    m0 *= 2.0
    return np.sum(r * r) + np.sum(m0)


def base_added_under_row_view(m0):
    r = m0[1]
    r[0] = 3.0 * m0[0, 0]
    m0 += r[2]
    return np.sum(r * r) + np.sum(m0)


def append_element_then_write(a0):
    hs = []
    for i in range(2):
        a0[1] += a0[0] * a0[2]
        hs.append(a0[1])
    return np.sum(np.array(hs)) + np.sum(a0)


def total(u0, u1):
    return u1 + np.sum(u0)


def append_helper_result_then_write(a0):
    out = a0 * 1.0
    hs = []
    for i in range(2):
        out[i] = 2.0 * out[i + 1]
        hs.append(total(out, 0.5))
    return hs[0] * hs[1] + np.sum(out)


def tuple_with_element(m0):
    out = np.zeros(3)
    for s in (m0[0, 0], out[1]):
        out[0] = s * m0[1, 1]
    return np.sum(out * m0[0])


def part(u0):
    return u0[:2] * 1.0


def slice_write_into_helper_result(a0):
    z8 = part(a0)
    z8[:] += a0[2]
    return np.sum(z8 * z8)


def base_scaled_in_loop(m0):
    r = m0[-1]
    for i in range(2):
        m0 += 0.5 * i
    return np.sum(r * r) + np.sum(m0)


def row_written_in_a_loop_that_scales_its_base(m0):
    r = m0[0]
    for i in range(2):
        r[1] = -1.1 * m0[1, 1]
        m0 *= 0.5
    return np.sum(m0 * m0) + np.sum(r)


# -- a user's Gauss-Seidel sweep and stencil views ----------------------------------------
def relax(grid, w):
    g = grid.copy()
    n, m = g.shape
    for s in range(2):
        for i in range(1, n - 1):
            up, row, down = g[i - 1], g[i], g[i + 1]
            for j in range(1, m - 1):
                row[j] = (1 - w) * row[j] + w * 0.25 * (up[j] + down[j] + row[j - 1] + row[j + 1])
    return np.sum(g * g)


def stencil_views(u):
    left, mid, right = u[:-2], u[1:-1], u[2:]
    new = mid + 0.1 * (left - 2 * mid + right)
    mid[:] = new
    return np.sum(u ** 3)


def transpose_write(A):
    B = A.T
    B[0, 1] = 5.0
    return np.sum(A * A)


def mask_write_through_row_in_a_loop_that_scales_its_base(m0):
    r = m0[0]
    for i in range(2):
        r[m0[1] > 0.0] = -1.1 * m0[1, 2]
        m0 *= 0.5
    return np.sum(m0 * m0)


# -- rebinding inside loops ------------------------------------------------------------------
def rebinding_alias_in_loop(x):
    # the second iteration writes into w through v
    w = x * 1.0
    v = np.zeros(3)
    for k in range(2):
        v[k] = w[k] * 2.0
        v = w
    return np.sum(w * w) + np.sum(v)


def writes_into_a_rebound_name_while_looping_over_it(a0):
    for _s in a0:
        a0 = a0 * 1.0
        p = a0[1:]
        p += 1.0
    return np.sum(a0 * a0)


def row_divided_in_a_loop(m0, x0):
    r3 = m0[0]
    r3[-1] *= x0
    for i in range(3):
        r3 /= (1.5 + m0[1, i] ** 2)
    return np.sum(m0 * np.array([[0.7, -1.2, 0.4], [0.3, 0.9, -0.5]]))
