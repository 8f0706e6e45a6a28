"""Training names cut down to the words that several projects share."""

from binbridge.data.shared_words import SharedWords

ROWS = [
    ("sqlite", "sqlite3Fts5ExprPhraseSize"),
    ("sqlite", "sqlite3_get_table"),
    ("png", "png_get_io_ptr"),
    ("png", "png_read_row"),
    ("xml", "xmlReadFile"),
    ("xml", "xmlGetProp"),
    ("xml", "xmlHashTableFree"),
    ("zlib", "gzread"),
    ("lua", "luaL_checksize"),
    ("lua", "lua_gettable"),
]


def test_words_of_enough_projects_are_shared():
    shared = SharedWords.find(ROWS, min_projects=2)
    assert "get" in shared.words
    assert "read" in shared.words
    assert "sqlite" not in shared.words
    assert "png" not in shared.words


def test_rewrite_keeps_shared_words_in_order():
    shared = SharedWords.find(ROWS, min_projects=2)
    assert shared.rewrite("png_get_io_ptr") == "get"
    assert shared.rewrite("xmlReadFile") == "read"
    assert shared.rewrite("sqlite3_get_table") == "get_table"
    assert shared.rewrite("table_get") == "table_get"


def test_name_without_shared_word_stays_whole():
    shared = SharedWords.find(ROWS, min_projects=2)
    assert shared.rewrite("gzread") == "gzread"


def test_one_project_threshold_keeps_every_word():
    shared = SharedWords.find(ROWS, min_projects=1)
    assert shared.rewrite("sqlite3Fts5ExprPhraseSize") == "sqlite_fts_expr_phrase_size"
