"""hean_hw.layouts: the Amaranth layouts must place every field where hean.wire does."""

import numpy as np
import pytest
from amaranth.hdl import Const, Module, Signal
from amaranth.sim import Simulator

from hean.wire import MSG_DTYPE, REC_DTYPE
from hean_hw.layouts import MSG_LAYOUT, REC_LAYOUT, from_bits, layout_from_dtype, to_bits


def _random(dtype: np.dtype, n: int, seed: int) -> np.ndarray:
    raw = np.random.default_rng(seed).integers(0, 256, n * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype)


def test_sizes() -> None:
    assert MSG_LAYOUT.size == 256
    assert REC_LAYOUT.size == 1024


@pytest.mark.parametrize(("dtype", "layout"), [(MSG_DTYPE, MSG_LAYOUT), (REC_DTYPE, REC_LAYOUT)])
def test_every_field_lands_at_its_byte_offset(dtype: np.dtype, layout) -> None:
    for name in dtype.names:
        field_type, offset = dtype.fields[name][:2]
        assert layout[name].offset == 8 * offset
        assert layout[name].shape.width == 8 * field_type.itemsize
        assert layout[name].shape.signed == (field_type.kind == "i")


@pytest.mark.parametrize(("dtype", "layout"), [(MSG_DTYPE, MSG_LAYOUT), (REC_DTYPE, REC_LAYOUT)])
def test_const_from_fields_equals_the_little_endian_bytes(dtype: np.dtype, layout) -> None:
    for item in _random(dtype, 20, seed=7):
        fields = {name: int(item[name]) for name in dtype.names}
        const = Const.cast(layout.const(fields))
        assert const.value % (1 << layout.size) == int.from_bytes(item.tobytes(), "little")


def test_simulated_view_reads_fields_from_bits() -> None:
    msgs = _random(MSG_DTYPE, 8, seed=3)
    m = Module()
    beat = Signal(MSG_LAYOUT)
    price = Signal(32)
    m.d.comb += price.eq(beat.price)
    sim = Simulator(m)
    seen = []

    async def bench(ctx):
        for value in to_bits(msgs):
            ctx.set(beat.as_value(), value)
            seen.append(ctx.get(price))

    sim.add_testbench(bench)
    sim.run()
    assert seen == [int(p) for p in msgs["price"]]


def test_bits_round_trip() -> None:
    recs = _random(REC_DTYPE, 5, seed=1)
    assert from_bits(to_bits(recs), REC_DTYPE).tobytes() == recs.tobytes()


def test_padding_and_big_endian_are_refused() -> None:
    with pytest.raises(ValueError, match="padding"):
        layout_from_dtype(
            np.dtype(
                {"names": ["a", "b"], "formats": ["u1", "<u4"], "offsets": [0, 4], "itemsize": 8}
            )
        )
    with pytest.raises(ValueError, match="little-endian"):
        layout_from_dtype(np.dtype([("a", ">u4")]))
