// SPDX-License-Identifier: GPL-2.0
// s2dsm wire format, version 1.  Every message is a 24-byte header, big-endian:
//
//   off  size  field
//     0     4  magic    0x5332444D ("S2DM")
//     4     2  version  1
//     6     2  type     (Type below)
//     8     4  page     page index (requests, replies), else 0
//    12     4  seq      barrier number (Barrier), else 0
//    16     4  flags    Reply: bit 0 = carries page data; SetupAck: 0 ok / errno; else 0
//    20     4  length   payload bytes that follow; fixed per type (see expected_length)
//
// Payloads: Hello {u64 nonce, u32 page_size, u32 reserved=0} (16 bytes);
// Setup {u64 address, u64 size} (16 bytes); Reply with data: exactly one page.
// Anything else (bad magic, other version, unknown type, wrong length, unknown flag bits,
// a truncated message) is a protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace s2dsm::wire {

inline constexpr std::uint32_t kMagic = 0x5332444D;
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::uint32_t kMaxPageSize = 65536;

enum class Type : std::uint16_t {
	Hello = 1,    // pairing handshake, both directions
	Setup = 2,    // first -> second: address and size of the region
	SetupAck = 3, // second -> first: flags = 0 (mapped) or the errno of the failed mmap
	ReqRead = 4,  // "I need a readable copy of page" (I -> S)
	ReqWrite = 5, // "I need the only copy of page" (I/S -> M): holder invalidates itself
	Reply = 6,    // answer to ReqRead/ReqWrite; data if the sender had a valid copy
	Barrier = 7,  // script synchronisation point `seq`
	Bye = 8,      // orderly end of session
};

inline constexpr std::uint32_t kReplyHasData = 1;

struct Header {
	Type type{};
	std::uint32_t page = 0;
	std::uint32_t seq = 0;
	std::uint32_t flags = 0;
	std::uint32_t length = 0;
};

struct Hello {
	std::uint64_t nonce = 0;
	std::uint32_t page_size = 0;
};
inline constexpr std::size_t kHelloSize = 16;

struct Setup {
	std::uint64_t address = 0;
	std::uint64_t size = 0;
};
inline constexpr std::size_t kSetupSize = 16;

class ProtocolError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

std::string_view type_name(Type t) noexcept;

void encode_header(const Header &h, std::span<std::byte, kHeaderSize> out) noexcept;

// Validates magic, version, type, flags and length.  page_size is the agreed page size
// (0 before the handshake, when only Hello is acceptable anyway).
Header decode_header(std::span<const std::byte, kHeaderSize> in, std::uint32_t page_size);

void encode_hello(const Hello &h, std::span<std::byte, kHelloSize> out) noexcept;
Hello decode_hello(std::span<const std::byte, kHelloSize> in);
void encode_setup(const Setup &s, std::span<std::byte, kSetupSize> out) noexcept;
Setup decode_setup(std::span<const std::byte, kSetupSize> in) noexcept;

} // namespace s2dsm::wire
