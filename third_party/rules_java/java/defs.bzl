"""Offline stand-in for @rules_java//java:defs.bzl.

Bazel 4.2.3's embedded tools load the Java rules from @rules_java, which it
would download. Nothing here builds Java, but those loads must resolve; these
forward to the rules built into Bazel.
"""

java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_plugin = native.java_plugin
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
