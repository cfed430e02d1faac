// SPDX-License-Identifier: GPL-2.0
// Unit tests for the wire format and the shared MSI view formatter.
// Prints one line per test: "ok - name" / "not ok - name: why"; run_tests.py numbers them.
#include "my_shmem/msi.hpp"
#include "wire.hpp"

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

using namespace s2dsm;
using my_shmem::msi::PageState;
using my_shmem::msi::State;

namespace {

int failures = 0;

void test(const char *name, const std::function<std::string()> &fn)
{
	std::string why;
	try {
		why = fn();
	} catch (const std::exception &e) {
		why = std::string("exception: ") + e.what();
	}
	if (why.empty()) {
		std::printf("ok - %s\n", name);
	} else {
		std::printf("not ok - %s: %s\n", name, why.c_str());
		++failures;
	}
}

using Buf = std::array<std::byte, wire::kHeaderSize>;

Buf encode(const wire::Header &h)
{
	Buf b;
	wire::encode_header(h, b);
	return b;
}

// Returns the ProtocolError text, or "" if decoding succeeded.
std::string decode_error(const Buf &b, std::uint32_t psz = 4096)
{
	try {
		wire::decode_header(b, psz);
		return "";
	} catch (const wire::ProtocolError &e) {
		return e.what();
	}
}

std::string expect_error(const Buf &b, const std::string &needle, std::uint32_t psz = 4096)
{
	std::string e = decode_error(b, psz);
	if (e.empty())
		return "accepted a bad header";
	if (e.find(needle) == std::string::npos)
		return "error '" + e + "' does not mention '" + needle + "'";
	return "";
}

} // namespace

int main()
{
	test("msi: letters and names", [] {
		if (my_shmem::msi::letter(State::Modified) != 'M' || my_shmem::msi::letter(State::Shared) != 'S' ||
		    my_shmem::msi::letter(State::Invalid) != 'I')
			return std::string("bad letter");
		if (my_shmem::msi::name(State::Shared) != "Shared")
			return std::string("bad name");
		return std::string();
	});
	test("msi: parse letters and long names, case-insensitive", [] {
		if (my_shmem::msi::parse("m") != State::Modified || my_shmem::msi::parse("SHARED") != State::Shared ||
		    my_shmem::msi::parse("Invalid") != State::Invalid || my_shmem::msi::parse("X") ||
		    my_shmem::msi::parse(""))
			return std::string("parse mismatch");
		return std::string();
	});
	test("msi: text view", [] {
		std::vector<PageState> v{{0, State::Shared}, {1, State::Invalid}, {2, State::Modified}};
		std::string got = my_shmem::msi::format_text(v);
		std::string want = "Page 0: S (Shared)\nPage 1: I (Invalid)\nPage 2: M (Modified)\n";
		return got == want ? std::string() : "got:\n" + got;
	});
	test("msi: text view with label", [] {
		std::vector<PageState> v{{7, State::Invalid}};
		std::string got = my_shmem::msi::format_text(v, "node 1");
		return got == "node 1:\nPage 7: I (Invalid)\n" ? std::string() : "got:\n" + got;
	});
	test("msi: json view", [] {
		std::vector<PageState> v{{0, State::Shared}, {1, State::Modified}};
		std::string got = my_shmem::msi::format_json(v, "a\"b");
		std::string want = "{\"label\":\"a\\\"b\",\"pages\":[{\"page\":0,\"state\":\"S\",\"name\":\"Shared\"},"
				   "{\"page\":1,\"state\":\"M\",\"name\":\"Modified\"}],\"counts\":{\"M\":1,\"S\":1,\"I\":0}}\n";
		return got == want ? std::string() : "got:\n" + got;
	});
	test("msi: json label with control and non-UTF-8 bytes", [] {
		std::vector<PageState> v{{0, State::Invalid}};
		std::string got = my_shmem::msi::format_json(v, std::string("x\n\x01\xff", 4));
		std::string want = "{\"label\":\"x\\n\\u0001\\ufffd\",\"pages\":[{\"page\":0,\"state\":\"I\","
				   "\"name\":\"Invalid\"}],\"counts\":{\"M\":0,\"S\":0,\"I\":1}}\n";
		return got == want ? std::string() : "got " + got;
	});
	test("wire: header round trip", [] {
		wire::Header h{wire::Type::Reply, 5, 0, wire::kReplyHasData, 4096};
		wire::Header d = wire::decode_header(encode(h), 4096);
		if (d.type != h.type || d.page != 5 || d.flags != 1 || d.length != 4096)
			return std::string("fields differ");
		Buf b = encode(h);
		// big-endian magic "S2DM" first
		if (b[0] != std::byte{'S'} || b[1] != std::byte{'2'} || b[2] != std::byte{'D'} || b[3] != std::byte{'M'})
			return std::string("magic not big-endian S2DM");
		return std::string();
	});
	test("wire: bad magic rejected", [] {
		Buf b = encode({wire::Type::Bye, 0, 0, 0, 0});
		b[0] = std::byte{'X'};
		return expect_error(b, "bad magic");
	});
	test("wire: other version rejected", [] {
		Buf b = encode({wire::Type::Bye, 0, 0, 0, 0});
		b[5] = std::byte{2};
		return expect_error(b, "version 2");
	});
	test("wire: unknown type rejected", [] {
		Buf b = encode({wire::Type::Bye, 0, 0, 0, 0});
		b[7] = std::byte{99};
		return expect_error(b, "unknown message type 99");
	});
	test("wire: wrong payload lengths rejected", [] {
		for (auto [t, len] : std::vector<std::pair<wire::Type, std::uint32_t>>{
			     {wire::Type::ReqRead, 1}, {wire::Type::Hello, 15}, {wire::Type::Setup, 4096},
			     {wire::Type::Bye, 0xffffffff}}) {
			std::string e = expect_error(encode({t, 0, 0, 0, len}), "payload length");
			if (!e.empty())
				return std::string(wire::type_name(t)) + ": " + e;
		}
		return std::string();
	});
	test("wire: reply length must match the data flag", [] {
		std::string e = expect_error(encode({wire::Type::Reply, 0, 0, wire::kReplyHasData, 100}), "payload length");
		if (e.empty())
			e = expect_error(encode({wire::Type::Reply, 0, 0, 0, 4096}), "payload length");
		if (e.empty())
			e = expect_error(encode({wire::Type::Reply, 0, 0, 6, 0}), "unknown flags");
		return e;
	});
	test("wire: reply before page size agreed rejected", [] {
		return expect_error(encode({wire::Type::Reply, 0, 0, 0, 0}), "page size", 0);
	});
	test("wire: unknown flags on requests rejected", [] {
		return expect_error(encode({wire::Type::ReqWrite, 0, 0, 1, 0}), "unknown flags");
	});
	test("wire: hello round trip and checks", [] {
		std::array<std::byte, wire::kHelloSize> p;
		wire::encode_hello({0x1122334455667788ULL, 4096}, p);
		wire::Hello h = wire::decode_hello(p);
		if (h.nonce != 0x1122334455667788ULL || h.page_size != 4096)
			return std::string("fields differ");
		wire::encode_hello({1, 12345}, p);
		try {
			wire::decode_hello(p);
			return std::string("accepted page size 12345");
		} catch (const wire::ProtocolError &) {
		}
		return std::string();
	});
	test("wire: setup round trip", [] {
		std::array<std::byte, wire::kSetupSize> p;
		wire::encode_setup({0x7f0000001000ULL, 3 * 4096}, p);
		wire::Setup s = wire::decode_setup(p);
		return s.address == 0x7f0000001000ULL && s.size == 3 * 4096 ? std::string() : std::string("fields differ");
	});
	return failures ? 1 : 0;
}
