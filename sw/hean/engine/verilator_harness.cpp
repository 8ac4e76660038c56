// Verilator harness of the HL2 feature core (``hl2_core``, FeatureCore exported to Verilog).
//
// Built by hean.engine.verilator with ``verilator --cc --exe --build``; the build
// parameters come in as -DHL2_K=... (see there). Two modes:
//
//   hl2_harness IN.hl2 OUT.hlf    stream a whole .hl2 file through the core, back to back
//                                 (one message offered per clock, output always ready), and
//                                 write the .hlf: the 64-byte header with this build's
//                                 parameters, then one 128-byte record per message with the
//                                 core's engine_t_in / engine_t_out cycle stamps. A summary
//                                 line (messages, cycles, seconds, messages/s) goes to stderr.
//   hl2_harness --pipe            the engine protocol on stdin/stdout, state kept between
//                                 batches. Request: u64 n, then n 32-byte messages. Answer:
//                                 n 128-byte records, then the core's counters as seven u64:
//                                 msgs_in, recs_out, bad, gaps, dropped, cycles, latency.
//                                 End of input ends the process.
//
// Verilator spells the ports' double underscore ``___05F`` (i_stream__valid is
// i_stream___05Fvalid).
//
// All integers little-endian. A message beat is the message's 32 bytes read as one
// little-endian 256-bit integer (hean_hw.layouts), and Verilator keeps wide ports as
// 32-bit words, least significant first, so on a little-endian host a beat is a memcpy.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "Vhl2_core.h"
#include "verilated.h"

#ifndef HL2_K
#error "HL2_K (and the other parameters) must be defined by the build"
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the harness assumes a little-endian host");

namespace {

constexpr size_t MSG = 32;
constexpr size_t REC = 128;
constexpr size_t HEADER = 64;
constexpr size_t CHUNK = 1 << 16;  // messages per read in file mode
static_assert(sizeof(EData) * 8 == MSG, "i_stream payload is 8 words");

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "hl2_harness: %s\n", what);
    std::exit(2);
}

bool read_exact(FILE* f, void* buf, size_t size) {
    return size == 0 || std::fread(buf, 1, size, f) == size;
}

void write_exact(FILE* f, const void* buf, size_t size) {
    if (size && std::fwrite(buf, 1, size, f) != size) die("write failed (reader gone?)");
}

class Core {
  public:
    Core() : top_(new Vhl2_core(&ctx_)) {
        top_->clk = 0;
        top_->rst = 1;
        top_->i_stream___05Fvalid = 0;
        top_->o_stream___05Fready = 0;
        top_->eval();
        for (int i = 0; i < 3; ++i) tick();
        top_->rst = 0;
        top_->o_stream___05Fready = 1;  // the sink never back-pressures
    }
    ~Core() {
        top_->final();
        delete top_;
    }

    // Offer ``n`` messages back to back, one per clock while the core is ready, and hand
    // each record to ``emit`` in order; ``fetch(i)`` gives message i (asked in order).
    // Returns the clocks it ran. Dies when the core stops making progress.
    template <class Fetch, class Emit>
    uint64_t stream(uint64_t n, Fetch fetch, Emit emit) {
        const uint64_t limit = 4 * HL2_LATENCY + 1000;
        uint64_t sent = 0, taken = 0, idle = 0, clocks = 0;
        const uint8_t* msg = n ? fetch(0) : nullptr;
        uint32_t* in = top_->i_stream___05Fpayload.data();
        const uint32_t* out = top_->o_stream___05Fpayload.data();
        while (taken < n) {
            const bool offer = sent < n;
            top_->i_stream___05Fvalid = offer;
            if (offer) std::memcpy(in, msg, MSG);
            // ready, valid and payload are registered: what they say now is what the
            // coming rising edge sees
            const bool accepted = offer && top_->i_stream___05Fready;
            const bool got = top_->o_stream___05Fvalid;
            if (got) emit(reinterpret_cast<const uint8_t*>(out));
            tick();
            ++clocks;
            if (accepted && ++sent < n) msg = fetch(sent);
            if (got) ++taken;
            if (accepted || got) {
                idle = 0;
            } else if (++idle > limit) {
                std::fprintf(stderr,
                             "hl2_harness: no handshake for %llu clocks: %llu of %llu messages "
                             "accepted, %llu records out\n",
                             (unsigned long long)limit, (unsigned long long)sent,
                             (unsigned long long)n, (unsigned long long)taken);
                std::exit(3);
            }
        }
        top_->i_stream___05Fvalid = 0;
        for (int i = 0; i < 2; ++i) tick();  // the counters trail their events by a clock
        return clocks + 2;
    }

    void counters(uint64_t out[7]) const {
        out[0] = top_->msgs_in;
        out[1] = top_->recs_out;
        out[2] = top_->bad;
        out[3] = top_->gaps;
        out[4] = top_->dropped;
        out[5] = top_->cycles;
        out[6] = HL2_LATENCY;
    }

  private:
    void tick() {
        top_->clk = 1;
        top_->eval();
        top_->clk = 0;
        top_->eval();
    }

    VerilatedContext ctx_;
    Vhl2_core* top_;
};

int pipe_mode() {
    Core core;
    std::vector<uint8_t> msgs, recs;
    uint64_t n;
    while (read_exact(stdin, &n, sizeof n)) {
        msgs.resize(n * MSG);
        recs.resize(n * REC);
        if (!read_exact(stdin, msgs.data(), msgs.size())) die("input ended inside a batch");
        uint8_t* dst = recs.data();
        const uint8_t* src = msgs.data();
        core.stream(
            n, [src](uint64_t i) { return src + i * MSG; },
            [&dst](const uint8_t* rec) {
                std::memcpy(dst, rec, REC);
                dst += REC;
            });
        uint64_t counters[7];
        core.counters(counters);
        write_exact(stdout, recs.data(), recs.size());
        write_exact(stdout, counters, sizeof counters);
        if (std::fflush(stdout)) die("write failed (reader gone?)");
    }
    return 0;
}

void put16(uint8_t* at, unsigned value) {
    at[0] = value & 0xFF;
    at[1] = (value >> 8) & 0xFF;
}

int file_mode(const char* src_path, const char* dst_path) {
    FILE* src = std::fopen(src_path, "rb");
    if (!src) die("cannot open the input file");
    uint8_t header[HEADER];
    if (!read_exact(src, header, HEADER) || std::memcmp(header, "HEANHL2\0", 8) != 0)
        die("the input is not an .hl2 file (bad or short header)");
    std::fseek(src, 0, SEEK_END);
    const long size = std::ftell(src) - static_cast<long>(HEADER);
    if (size < 0 || size % MSG) die("the input's body is not a whole number of messages");
    std::fseek(src, HEADER, SEEK_SET);
    const uint64_t n = static_cast<uint64_t>(size) / MSG;

    FILE* dst = std::fopen(dst_path, "wb");
    if (!dst) die("cannot open the output file");
    std::memset(header, 0, HEADER);
    std::memcpy(header, "HEANHLF\0", 8);
    const unsigned fields[] = {1, HEADER, HL2_K, HL2_N, HL2_OFI_SHIFT, HL2_FLOW_SHIFT,
                               HL2_ICE_MIN_REFILLS, HL2_ICE_ABSORB_RATIO};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) put16(header + 8 + 2 * i, fields[i]);
    write_exact(dst, header, HEADER);

    std::vector<uint8_t> in(CHUNK * MSG), out(CHUNK * REC);
    uint64_t base = 0, filled = 0, pending = 0;  // messages [base, base + filled) are in ``in``
    auto fetch = [&](uint64_t i) -> const uint8_t* {
        if (i >= base + filled) {
            base += filled;
            filled = std::min<uint64_t>(CHUNK, n - base);
            if (!read_exact(src, in.data(), filled * MSG)) die("the input ended early");
        }
        return in.data() + (i - base) * MSG;
    };
    auto emit = [&](const uint8_t* rec) {
        std::memcpy(out.data() + pending * REC, rec, REC);
        if (++pending == CHUNK) {
            write_exact(dst, out.data(), pending * REC);
            pending = 0;
        }
    };
    Core core;
    const auto started = std::chrono::steady_clock::now();
    const uint64_t clocks = core.stream(n, fetch, emit);
    write_exact(dst, out.data(), pending * REC);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (std::fclose(dst)) die("closing the output failed");
    std::fclose(src);
    uint64_t c[7];
    core.counters(c);
    std::fprintf(stderr,
                 "hl2_harness: K=%d N=%d: %llu messages, %llu clocks, %.3f s, %.0f messages/s; "
                 "counters msgs_in %llu recs_out %llu bad %llu gaps %llu dropped %llu\n",
                 HL2_K, HL2_N, (unsigned long long)n, (unsigned long long)clocks, seconds,
                 seconds > 0 ? n / seconds : 0.0, (unsigned long long)c[0],
                 (unsigned long long)c[1], (unsigned long long)c[2], (unsigned long long)c[3],
                 (unsigned long long)c[4]);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--pipe") == 0) return pipe_mode();
    if (argc == 3) return file_mode(argv[1], argv[2]);
    std::fprintf(stderr, "usage: %s IN.hl2 OUT.hlf | %s --pipe\n", argv[0], argv[0]);
    return 1;
}
