"""atrest: the encryption-at-rest advisor for Amazon S3 (the `atrest` command)."""

#: The name the project is installed under (pyproject.toml). "atrest" on PyPI is an
#: unrelated project: nothing here looks it up by that name.
DISTRIBUTION = "atrest-s3-advisor"
