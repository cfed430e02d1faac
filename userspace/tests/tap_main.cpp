// SPDX-License-Identifier: GPL-2.0
// main() for the GoogleTest binaries: TAP on stdout in the kselftest
// harness' form ("ok N Suite.Name", "not ok N ...", "ok N ... # SKIP why"),
// so that scripts/check, selftests/run and scripts/tests/mutation-check
// read them like every other suite.  GoogleTest's own
// output is kept for failures (as TAP comments) and --gtest_* flags work.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace {

class TapListener : public testing::EmptyTestEventListener {
public:
	void OnTestProgramStart(const testing::UnitTest &u) override
	{
		std::printf("TAP version 13\n1..%d\n", u.test_to_run_count());
		std::fflush(stdout);
	}

	void OnTestPartResult(const testing::TestPartResult &r) override
	{
		if (r.type() == testing::TestPartResult::kSuccess)
			return;
		std::string msg = r.message();
		std::string out;

		for (char ch : msg) {
			out += ch;
			if (ch == '\n')
				out += "#   ";
		}
		std::printf("# %s:%d: %s\n", r.file_name() ? r.file_name() : "?",
			    r.line_number(), out.c_str());
	}

	void OnTestEnd(const testing::TestInfo &t) override
	{
		const testing::TestResult *r = t.result();

		n_++;
		/* a comment before the result line: the cost of each test shows */
		std::printf("# %s.%s: %lld ms\n", t.test_suite_name(), t.name(),
			    static_cast<long long>(r->elapsed_time()));
		if (r->Skipped()) {
			std::string why;

			for (int i = 0; i < r->total_part_count(); i++)
				if (r->GetTestPartResult(i).skipped())
					why = r->GetTestPartResult(i).message();
			for (char &ch : why)
				if (ch == '\n')
					ch = ' ';
			std::printf("ok %d %s.%s # SKIP %s\n", n_, t.test_suite_name(), t.name(),
				    why.empty() ? "(no reason given)" : why.c_str());
		} else {
			std::printf("%s %d %s.%s\n", r->Passed() ? "ok" : "not ok", n_,
				    t.test_suite_name(), t.name());
		}
		std::fflush(stdout);
	}

private:
	int n_ = 0;
};

} // namespace

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	testing::TestEventListeners &l = testing::UnitTest::GetInstance()->listeners();

	delete l.Release(l.default_result_printer());
	l.Append(new TapListener);
	return RUN_ALL_TESTS();
}
