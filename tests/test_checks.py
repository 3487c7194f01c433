"""Tests of seqlab.checks: do failures say what is wrong and the likely cause?"""
import numpy as np
import pytest

from seqlab.checks import CheckFailed, check_close, check_implemented, check_shape

rng = np.random.default_rng(0)


def fails(**kwargs) -> str:
    with pytest.raises(CheckFailed) as info:
        check_close(**kwargs)
    return str(info.value)


def test_shape_message_names_both_shapes():
    """Does a wrong shape name the array, its shape and the expected one?"""
    with pytest.raises(CheckFailed, match=r"dWh has shape \(5, 4\), expected \(4, 4\)"):
        check_shape("dWh", np.zeros((5, 4)), (4, 4))


def test_shape_spots_a_transpose():
    """Is a transposed result called transposed?"""
    with pytest.raises(CheckFailed, match="transposed"):
        check_shape("Wx", np.zeros((3, 5)), (5, 3))


def test_tuple_instead_of_array_is_explained():
    """Does returning (out, cache) where an array belongs say so?"""
    with pytest.raises(CheckFailed, match="tuple"):
        check_shape("h", (np.zeros(3), {"cache": 1}), (3,))


def test_none_suggests_a_missing_return():
    """Does None point at a missing return statement?"""
    with pytest.raises(CheckFailed, match="return"):
        check_implemented(None, "rnn_forward")


def test_close_values_pass_and_return_the_error():
    """Do matching arrays pass, returning a small relative error?"""
    x = rng.normal(size=(3, 4))
    assert check_close("h", x + 1e-12, x) < 1e-9


def test_message_names_element_values_and_error():
    """Does the message give the first wrong element, both values and the max relative error?"""
    e = np.ones((2, 3))
    a = e.copy()
    a[1, 2] = 0.5
    msg = fails(name="h", actual=a, expected=e)
    assert "h[1, 2] = 0.5 but expected 1" in msg and "max relative error" in msg and "1 of 6" in msg


def test_message_adds_the_largest_difference_when_the_first_is_slight():
    """When the first wrong entry is off only slightly, does the message also show the glaring one?"""
    e = np.array([[0.434759, 0.5, 0.0]])
    a = np.array([[0.434754, 0.5, 0.2]])
    msg = fails(name="weights", actual=a, expected=e, rtol=1e-7)
    assert "weights[0, 0] = 0.434754" in msg
    assert "the largest difference is at weights[0, 2]: 0.2 against 0" in msg
    b = e.copy()
    b[0, 1] = 0.6
    assert "largest difference" not in fails(name="weights", actual=b, expected=e)


def test_time_pattern_first_step_only():
    """When only the first time step is right, does the message ask about carrying h forward?"""
    e = rng.normal(size=(2, 4, 3))
    a = e.copy()
    a[:, 1:] += 0.3
    assert "carried forward" in fails(name="h", actual=a, expected=e, time_axis=1)


def test_time_pattern_last_step_only():
    """When only the last step is right, does the message ask about accumulating dh?"""
    e = rng.normal(size=(2, 4, 3))
    a = e.copy()
    a[:, :-1] *= 0.5
    assert "accumulated" in fails(name="dx", actual=a, expected=e, time_axis=1)


def test_time_pattern_shift():
    """Is an off-by-one shift in time recognised?"""
    e = rng.normal(size=(2, 5, 3))
    a = np.concatenate([e[:, 1:], e[:, :1]], axis=1)
    a[:, -1] = 0
    e2 = e.copy()
    assert "shifted by one" in fails(name="h", actual=np.roll(e2, 1, axis=1), expected=e2, time_axis=1)


@pytest.mark.parametrize("transform, words", [
    (lambda e: -e, "wrong sign"),
    (lambda e: e.T, "transpose"),
    (lambda e: 0.25 * e, "0.25 times"),
    (lambda e: np.zeros_like(e), "all zeros"),
    (lambda e: e * (1 + 1e-5), "float32"),
])
def test_diagnoses(transform, words):
    """Are sign flips, transposes, scale factors, zeros and round-off each named?"""
    e = rng.normal(size=(4, 4))
    assert words in fails(name="dWh", actual=transform(e), expected=e)


def test_suspect_is_named():
    """Does a match with a known mistake the test computed get named in the message?"""
    e = rng.normal(size=(3, 3))
    wrong = rng.normal(size=(3, 3))
    msg = fails(name="h", actual=wrong, expected=e, suspects={"Wx and Wh are swapped": wrong})
    assert "Wx and Wh are swapped" in msg


def test_nan_is_reported_with_advice():
    """Does a NaN in the output name the position and suggest subtracting the max?"""
    a = np.ones(3)
    a[1] = np.nan
    assert "NaN" in fails(name="loss", actual=a, expected=np.ones(3))


def test_float32_output_gets_float32_tolerance_where_the_contract_allows_it():
    """Is a float32 result within float32 round-off accepted when the oracle is float32 (float32
    inputs) or the test says float32 is allowed?"""
    e = rng.normal(size=(5, 5))
    check_close("h", e.astype(np.float32), e.astype(np.float32) * (1 + 1e-6))
    check_close("h", e.astype(np.float32), e, float32_ok=True)


def test_float32_result_for_float64_inputs_fails_naming_the_dtype():
    """The tolerance follows the inputs, not the student's output: float32 where float64 was expected fails."""
    e = rng.normal(size=(5, 5))
    with pytest.raises(CheckFailed, match=r"h has dtype float32, expected float64: float64 inputs need"):
        check_close("h", e.astype(np.float32), e)


def test_prerequisite_puts_the_blame_on_the_earlier_part():
    """A failing earlier part is named, with its own message, instead of a mismatch in the later one."""
    from seqlab.checks import check_prerequisite

    def step():
        check_close("dx", np.zeros(3), np.ones(3))
    with pytest.raises(CheckFailed, match=r"^rnn_backward can't be checked until rnn_step_backward passes: "
                                          r"fix rnn_step_backward first \(dx\[0\] = 0"):
        check_prerequisite("rnn_backward", "rnn_step_backward", step)
    with pytest.raises(CheckFailed, match=r"fix f first \(NameError: name 'g' is not defined\)"):
        check_prerequisite("h", "f", lambda: g)  # noqa: F821
    check_prerequisite("h", "f", lambda: None)


def test_accepts_torch_tensors():
    """Can the oracle be a torch tensor?"""
    torch = pytest.importorskip("torch")
    e = rng.normal(size=(2, 2))
    check_close("h", e, torch.from_numpy(e))


def test_close_values_are_printed_with_enough_digits_to_differ():
    """When got and expected agree to 4 digits, does the message print enough digits to tell them apart?"""
    with pytest.raises(CheckFailed) as err:
        check_close("w", np.array([0.43481234]), np.array([0.43482345]), what="torch gives")
    assert "w[0] = 0.434812 but torch gives 0.434823" in str(err.value)


def test_blame_falls_on_an_earlier_part_only_when_the_later_check_fails():
    """A later part that passes is never failed for a wrong earlier part; one that fails is blamed on
    the earlier part when that fails too, and keeps its own message when it does not."""
    from seqlab.checks import check_blaming

    def wrong():
        raise CheckFailed("dx[0] = 1 but expected 2")
    assert check_blaming("rnn_backward", lambda: 7, {"rnn_step_backward": wrong}) == 7
    with pytest.raises(CheckFailed, match=r"^rnn_backward can't be checked until rnn_step_backward passes"):
        check_blaming("rnn_backward", wrong, {"rnn_step_backward": wrong})
    with pytest.raises(CheckFailed, match=r"^dx\[0\] = 1"):
        check_blaming("rnn_backward", wrong, {"rnn_step_backward": lambda: None})

    def blank():
        raise NotImplementedError("rnn_step_backward")
    with pytest.raises(NotImplementedError):
        check_blaming("rnn_backward", wrong, {"rnn_step_backward": blank})


def test_call_on_copies_names_an_input_changed_in_place():
    """Does call_on_copies leave the caller's arrays, tensors and lists alone and name the one changed?"""
    import torch
    from seqlab.checks import call_on_copies

    def grows(x, h0):
        h0 += 1
        return x
    x, h0 = np.ones(3), np.zeros(2)
    with pytest.raises(CheckFailed, match="grows changed its input h0 in place"):
        call_on_copies(grows, x, h0)
    assert not h0.any()
    assert call_on_copies(lambda t, refs: t * 2, torch.ones(2), [[1], [2]]).tolist() == [2.0, 2.0]

    def sorts(refs):
        refs.sort()
    with pytest.raises(CheckFailed, match="sorts changed its input refs"):
        call_on_copies(sorts, [3, 1])
    nan = np.array([np.nan, 1.0])
    assert call_on_copies(lambda a: a.sum(), nan) != 0


def test_stand_ins_are_restored_whatever_happens():
    """Are the names a hidden test stands in for restored after the block, even when it raises?"""
    from seqlab.checks import stand_ins
    space = {"step": "student's"}
    with pytest.raises(ValueError):
        with stand_ins(space, step="oracle", extra=1):
            assert space == {"step": "oracle", "extra": 1}
            raise ValueError
    assert space == {"step": "student's"}


def test_check_choice_takes_any_case_and_names_the_options_not_the_answer():
    """Is " B " read as "b", and do None or "e" fail with the options listed (and no hint of the answer)?"""
    from seqlab.checks import check_choice
    assert check_choice("answer_forget_bias", " B ", "abcd") == "b"
    assert check_choice("answer_forget_bias", "(c)", "abcd") == "c"
    with pytest.raises(CheckFailed, match=r"answer_forget_bias is None \(not answered yet\): set it to one letter, one of 'a', 'b', 'c', 'd'"):
        check_choice("answer_forget_bias", None, "abcd")
    with pytest.raises(CheckFailed, match="'e'"):
        check_choice("answer_forget_bias", "e", "abcd")
    with pytest.raises(CheckFailed):
        check_choice("answer_forget_bias", 2, "abcd")
