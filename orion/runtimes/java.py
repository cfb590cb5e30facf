"""Java: detected by a Maven or Gradle build; its agent (-javaagent) is still to come."""

from __future__ import annotations

from pathlib import Path

from . import Runtime, Toolchain

_GRADLE_BUILD = ("build.gradle", "build.gradle.kts")


class JavaRuntime(Runtime):
    name = "java"
    languages = ("java",)
    title = {"java": "Java"}
    markers = {"java": ("pom.xml", *_GRADLE_BUILD)}
    toolchains = {"java": Toolchain(("java", "mvn"), "install a JDK and Maven (Debian: "
                                                     "apt-get install default-jdk maven)")}

    def test_command(self, root: Path, language: str) -> list[str]:
        """Maven's, or Gradle's (its wrapper first) when the project builds with Gradle."""
        if any((root / name).is_file() for name in _GRADLE_BUILD):
            return ["./gradlew", "test"] if (root / "gradlew").is_file() else ["gradle", "test"]
        return ["mvn", "-q", "test"]


RUNTIME = JavaRuntime()
