// SPDX-License-Identifier: GPL-2.0
#include "wire.hpp"

#include <cstdio>

namespace s2dsm::wire {

namespace {
template <typename T> void put(std::byte *p, T v) noexcept
{
	for (std::size_t i = 0; i < sizeof(T); ++i)
		p[i] = static_cast<std::byte>(v >> (8 * (sizeof(T) - 1 - i)));
}
template <typename T> T get(const std::byte *p) noexcept
{
	T v = 0;
	for (std::size_t i = 0; i < sizeof(T); ++i)
		v = static_cast<T>((v << 8) | static_cast<T>(std::to_integer<unsigned>(p[i])));
	return v;
}
std::string hex(std::uint64_t v)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
	return buf;
}
} // namespace

std::string_view type_name(Type t) noexcept
{
	switch (t) {
	case Type::Hello: return "HELLO";
	case Type::Setup: return "SETUP";
	case Type::SetupAck: return "SETUP_ACK";
	case Type::ReqRead: return "REQ_READ";
	case Type::ReqWrite: return "REQ_WRITE";
	case Type::Reply: return "REPLY";
	case Type::Barrier: return "BARRIER";
	case Type::Bye: return "BYE";
	}
	return "?";
}

void encode_header(const Header &h, std::span<std::byte, kHeaderSize> out) noexcept
{
	std::byte *p = out.data();
	put<std::uint32_t>(p, kMagic);
	put<std::uint16_t>(p + 4, kVersion);
	put<std::uint16_t>(p + 6, static_cast<std::uint16_t>(h.type));
	put<std::uint32_t>(p + 8, h.page);
	put<std::uint32_t>(p + 12, h.seq);
	put<std::uint32_t>(p + 16, h.flags);
	put<std::uint32_t>(p + 20, h.length);
}

Header decode_header(std::span<const std::byte, kHeaderSize> in, std::uint32_t page_size)
{
	const std::byte *p = in.data();
	std::uint32_t magic = get<std::uint32_t>(p);
	if (magic != kMagic)
		throw ProtocolError("bad magic " + hex(magic) + " (expected " + hex(kMagic) +
				    "; not an s2dsm peer?)");
	std::uint16_t version = get<std::uint16_t>(p + 4);
	if (version != kVersion)
		throw ProtocolError("wire protocol version " + std::to_string(version) +
				    ", this s2dsm speaks version " + std::to_string(kVersion));
	std::uint16_t raw_type = get<std::uint16_t>(p + 6);
	if (raw_type < static_cast<std::uint16_t>(Type::Hello) ||
	    raw_type > static_cast<std::uint16_t>(Type::Bye))
		throw ProtocolError("unknown message type " + std::to_string(raw_type));
	Header h;
	h.type = static_cast<Type>(raw_type);
	h.page = get<std::uint32_t>(p + 8);
	h.seq = get<std::uint32_t>(p + 12);
	h.flags = get<std::uint32_t>(p + 16);
	h.length = get<std::uint32_t>(p + 20);

	const std::string what = std::string(type_name(h.type));
	auto bad_length = [&](std::uint32_t expected) {
		return ProtocolError(what + " with payload length " + std::to_string(h.length) +
				     " (expected " + std::to_string(expected) + ")");
	};
	switch (h.type) {
	case Type::Hello:
		if (h.length != kHelloSize)
			throw bad_length(kHelloSize);
		break;
	case Type::Setup:
		if (h.length != kSetupSize)
			throw bad_length(kSetupSize);
		break;
	case Type::SetupAck:
	case Type::ReqRead:
	case Type::ReqWrite:
	case Type::Barrier:
	case Type::Bye:
		if (h.length != 0)
			throw bad_length(0);
		break;
	case Type::Reply:
		if (h.flags & ~kReplyHasData)
			throw ProtocolError("REPLY with unknown flags " + hex(h.flags));
		if (page_size == 0)
			throw ProtocolError("REPLY before the page size was agreed");
		if ((h.flags & kReplyHasData) ? h.length != page_size : h.length != 0)
			throw bad_length((h.flags & kReplyHasData) ? page_size : 0);
		break;
	}
	if (h.type != Type::Reply && h.type != Type::SetupAck && h.flags != 0)
		throw ProtocolError(what + " with unknown flags " + hex(h.flags));
	return h;
}

void encode_hello(const Hello &h, std::span<std::byte, kHelloSize> out) noexcept
{
	put<std::uint64_t>(out.data(), h.nonce);
	put<std::uint32_t>(out.data() + 8, h.page_size);
	put<std::uint32_t>(out.data() + 12, 0);
}

Hello decode_hello(std::span<const std::byte, kHelloSize> in)
{
	Hello h;
	h.nonce = get<std::uint64_t>(in.data());
	h.page_size = get<std::uint32_t>(in.data() + 8);
	std::uint32_t reserved = get<std::uint32_t>(in.data() + 12);
	if (reserved != 0)
		throw ProtocolError("HELLO with non-zero reserved field " + hex(reserved));
	if (h.page_size < 4096 || h.page_size > kMaxPageSize || (h.page_size & (h.page_size - 1)))
		throw ProtocolError("HELLO with implausible page size " + std::to_string(h.page_size));
	return h;
}

void encode_setup(const Setup &s, std::span<std::byte, kSetupSize> out) noexcept
{
	put<std::uint64_t>(out.data(), s.address);
	put<std::uint64_t>(out.data() + 8, s.size);
}

Setup decode_setup(std::span<const std::byte, kSetupSize> in) noexcept
{
	return Setup{get<std::uint64_t>(in.data()), get<std::uint64_t>(in.data() + 8)};
}

} // namespace s2dsm::wire
