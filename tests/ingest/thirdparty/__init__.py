"""A small third-party plugin that lives outside the package: registered through the same
entry-point group as the built-ins by a dist-info folder the tests write."""
