"""Fuzz targets: one source file defining LLVMFuzzerTestOneInput, built two ways.

With --config=fuzz (clang-14, see scripts/fuzz) `name` is a libFuzzer binary. In every other
build it links a small driver that runs the seed corpus once, and `name + "_seeds"` is a test that
does so: the seeds are regression inputs of the ordinary test run, under ASan/UBSan too.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def stswatch_fuzz_target(name, srcs, deps, corpus, dict = None):
    cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//bazel:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:seed_driver"],
        }),
        linkopts = select({
            "//bazel:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = [corpus] + ([dict] if dict else []),
        tags = ["fuzz_target"],
    )
    cc_test(
        name = name + "_seeds",
        srcs = srcs,
        deps = deps + ["//tests/fuzz:seed_driver"],
        data = [corpus],
        args = ["$(locations %s)" % corpus],
        size = "small",
    )
