#!/usr/bin/env python3
"""Run every analysis/tests/test_*.py with unittest and print TAP lines
(ok N - name / not ok N - name / ok N - name # SKIP reason)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, status, test, extra=''):
        self.n += 1
        print(f'{status} {self.n} - {test.id()}{extra}', flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line('ok', test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line('not ok', test)
        print('# ' + self._exc_info_to_string(err, test).replace('\n', '\n# '))

    def addError(self, test, err):
        super().addError(test, err)
        self._line('not ok', test)
        print('# ' + self._exc_info_to_string(err, test).replace('\n', '\n# '))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line('ok', test, f' # SKIP {reason}')


def main():
    sys.path.insert(0, os.path.dirname(HERE))
    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py')
    result = TapResult()
    suite.run(result)
    print(f'1..{result.n}')
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
