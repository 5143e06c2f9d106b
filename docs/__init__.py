"""The documentation site's generated pages and build hooks (mkdocs.yml; see docs/pages/)."""
