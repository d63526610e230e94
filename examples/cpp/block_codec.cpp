// block_codec: a block-compression hook of the kind RocksDB and ClickHouse plug in
// (Compress(const Slice&, std::string*) / Uncompress), built on libiaa. Each block is
// compressed as a batch of 4 KiB units in one call, so the hardware path can work on all of a
// block's units at once; units that do not shrink are stored raw.
//
// Block format (little endian):
//   u32 raw_len, u32 unit_size, then one u32 per unit (bit 31: stored raw; bits 0-30: stored
//   length), then the stored units back to back.
//
//   c++ -std=c++17 block_codec.cpp $(pkg-config --cflags --libs iaa-static) -pthread
//   ./block_codec FILE [BLOCK_SIZE]
#include <iaa.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace example {

// The (data, size) view RocksDB passes to its compression hooks.
class Slice {
  public:
    Slice(const char *d, size_t n) : data_(d), size_(n) {}
    explicit Slice(const std::string &s) : data_(s.data()), size_(s.size()) {}
    const char *data() const { return data_; }
    size_t size() const { return size_; }

  private:
    const char *data_;
    size_t size_;
};

class IaaBlockCompressor {
  public:
    explicit IaaBlockCompressor(size_t unit_size = 4096) : unit_(unit_size)
    {
        iaa_config cfg;
        iaa_config_init(&cfg);
        int rc = iaa_pool_create(&cfg, &pool_);
        if (rc != 0)
            throw std::runtime_error(std::string("iaa_pool_create: ") + iaa_strerror(rc));
    }
    ~IaaBlockCompressor() { iaa_pool_destroy(pool_); }
    IaaBlockCompressor(const IaaBlockCompressor &) = delete;
    IaaBlockCompressor &operator=(const IaaBlockCompressor &) = delete;

    // Thread-safe: the pool takes the calling CPU's context for the call.
    bool Compress(const Slice &input, std::string *output) const
    {
        if (input.size() > 0x7fffffffu)
            return false;
        size_t n = iaa_unit_count(input.size(), unit_);
        std::vector<uint8_t> slots(n * unit_);
        std::vector<int32_t> res(n);
        int rc = iaa_compress_batch(pool_, input.data(), input.size(), unit_, slots.data(),
                                    slots.size(), unit_, res.data(), res.size(), nullptr,
                                    nullptr);
        if (rc != 0)
            return false;
        output->clear();
        put32(output, static_cast<uint32_t>(input.size()));
        put32(output, static_cast<uint32_t>(unit_));
        for (size_t i = 0; i < n; i++) {
            if (res[i] == IAA_INCOMPRESSIBLE)
                put32(output, 0x80000000u | static_cast<uint32_t>(unit_len(input.size(), i)));
            else if (res[i] >= 0)
                put32(output, static_cast<uint32_t>(res[i]));
            else
                return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (res[i] == IAA_INCOMPRESSIBLE)
                output->append(input.data() + i * unit_, unit_len(input.size(), i));
            else
                output->append(reinterpret_cast<const char *>(slots.data() + i * unit_),
                               static_cast<size_t>(res[i]));
        }
        return true;
    }

    // Returns false for a block that is truncated, corrupt or inconsistent.
    bool Uncompress(const Slice &input, std::string *output) const
    {
        const char *p = input.data();
        size_t left = input.size();
        uint32_t raw_len, unit;
        if (!get32(&p, &left, &raw_len) || !get32(&p, &left, &unit) || unit == 0)
            return false;
        size_t n = iaa_unit_count(raw_len, unit);
        std::vector<uint32_t> entry(n);
        for (size_t i = 0; i < n; i++)
            if (!get32(&p, &left, &entry[i]))
                return false;
        output->assign(raw_len, '\0');
        std::vector<const uint8_t *> src;
        std::vector<size_t> src_len, cap, want;
        std::vector<uint8_t *> dst;
        for (size_t i = 0; i < n; i++) {
            size_t stored = entry[i] & 0x7fffffffu, ulen = unit_len(raw_len, i, unit);
            if (stored > left)
                return false;
            char *out = &(*output)[i * unit];
            if (entry[i] & 0x80000000u) {
                if (stored != ulen)
                    return false;
                std::memcpy(out, p, ulen);
            } else {
                src.push_back(reinterpret_cast<const uint8_t *>(p));
                src_len.push_back(stored);
                dst.push_back(reinterpret_cast<uint8_t *>(out));
                cap.push_back(ulen);
            }
            p += stored;
            left -= stored;
        }
        if (left != 0)
            return false;
        std::vector<int32_t> res(src.size());
        int rc = iaa_decompress_batch(pool_, src.data(), src_len.data(), dst.data(), cap.data(),
                                      src.size(), nullptr, res.data(), res.size(), nullptr,
                                      nullptr);
        if (rc != 0)
            return false;
        for (size_t k = 0; k < res.size(); k++)
            if (res[k] < 0 || static_cast<size_t>(res[k]) != cap[k])
                return false;
        return true;
    }

    iaa_pool *pool() const { return pool_; }

  private:
    size_t unit_len(size_t total, size_t i, size_t unit = 0) const
    {
        if (unit == 0)
            unit = unit_;
        size_t start = i * unit;
        return total - start < unit ? total - start : unit;
    }
    static void put32(std::string *s, uint32_t v)
    {
        for (int b = 0; b < 4; b++)
            s->push_back(static_cast<char>((v >> (8 * b)) & 0xff));
    }
    static bool get32(const char **p, size_t *left, uint32_t *v)
    {
        if (*left < 4)
            return false;
        const unsigned char *u = reinterpret_cast<const unsigned char *>(*p);
        *v = u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
        *p += 4;
        *left -= 4;
        return true;
    }

    iaa_pool *pool_ = nullptr;
    size_t unit_;
};

}  // namespace example

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE [BLOCK_SIZE]\n", argv[0]);
        return 2;
    }
    size_t block = argc > 2 ? std::stoul(argv[2]) : 16384;
    std::ifstream f(argv[1], std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f.good() && !f.eof()) {
        std::perror(argv[1]);
        return 2;
    }
    example::IaaBlockCompressor codec;

    // Two threads share one compressor, each taking every other block.
    size_t blocks = (data.size() + block - 1) / block;
    std::vector<size_t> stored(2, 0);
    std::vector<int> ok(2, 1);
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; t++) {
        workers.emplace_back([&, t] {
            std::string c, back;
            for (size_t b = t; b < blocks; b += 2) {
                size_t len = std::min(block, data.size() - b * block);
                example::Slice in(data.data() + b * block, len);
                if (!codec.Compress(in, &c) || !codec.Uncompress(example::Slice(c), &back) ||
                    back.size() != len || std::memcmp(back.data(), in.data(), len) != 0) {
                    std::fprintf(stderr, "block %zu does not round-trip\n", b);
                    ok[t] = 0;
                    return;
                }
                stored[t] += c.size();
            }
        });
    }
    for (auto &w : workers)
        w.join();
    if (!ok[0] || !ok[1])
        return 1;

    // A damaged block is refused, not crashed on.
    std::string c, back;
    size_t len = std::min(block, data.size());
    if (!codec.Compress(example::Slice(data.data(), len), &c))
        return 1;
    if (len > 0 && codec.Uncompress(example::Slice(c.data(), c.size() - 1), &back)) {
        std::fprintf(stderr, "a truncated block was accepted\n");
        return 1;
    }
    std::printf("%zu blocks of %zu bytes: %zu -> %zu bytes, round-trip ok\n", blocks, block,
                data.size(), stored[0] + stored[1]);
    return 0;
}
