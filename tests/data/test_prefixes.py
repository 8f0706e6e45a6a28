"""Project namespace prefixes: which prefix a project has, and what stripping leaves."""

from binbridge.data.prefixes import ProjectPrefixes, leading_prefix


def test_leading_prefix_drops_underscores_and_case():
    assert leading_prefix("png_get_IHDR") == "png_"
    assert leading_prefix("_gcry_mpi_add") == "gcry_"
    assert leading_prefix("__gmpn_add") == "gmpn_"
    assert leading_prefix("SSL_CTX_new") == "ssl_"
    assert leading_prefix("main") is None
    assert leading_prefix("png_") is None, "a name that is only a prefix has none"


def test_dominant_prefix_needs_a_share_and_a_count():
    rows = [("libpng", f"png_f{i}") for i in range(30)] + [("libpng", f"helper{i}") for i in range(10)]
    rows += [("mixed", f"a{i}_x") for i in range(40)]  # 40 different prefixes, none dominant
    rows += [("small", "sm_one"), ("small", "sm_two")]  # too few functions
    prefixes = ProjectPrefixes.find(rows, min_share=0.25, min_functions=20)
    assert prefixes.prefixes == {"libpng": "png_"}


def test_strip_only_touches_the_projects_own_prefix():
    prefixes = ProjectPrefixes(prefixes={"libpng": "png_"})
    assert prefixes.strip("libpng", "png_read_row") == "read_row"
    assert prefixes.strip("libpng", "PNG_read_row") == "read_row"
    assert prefixes.strip("libpng", "_png_read_row") == "read_row", "internal variants lose the prefix too"
    assert prefixes.strip("libpng", "crc_update") == "crc_update"
    assert prefixes.strip("zlib", "png_read_row") == "png_read_row"
