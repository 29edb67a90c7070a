"""Names and passwords that pass one member off as another (issue 12): account names compared
after NFKC and case folding, in the service and in the database (migration 0009); names with
invisible characters or look-alike letters of another script refused; passwords too easy to
guess refused. The API's side is in test_api_auth.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from councilplan.councils import names
from councilplan.councils import service as s
from test_store import scratch_engine, scratch_urls

T0 = datetime(2025, 3, 1, tzinfo=UTC)
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def register(store, username, display_name="", **kw):
    return s.register_account(
        store, username=username, display_name=display_name, password_hash="h", now=T0, **kw
    )


# -- the rules, as plain functions --------------------------------------------------------------


def test_one_name_whatever_its_case_or_width():
    assert names.name_key("Ada") == names.name_key("ada") == names.name_key("Ａｄａ") == "ada"
    assert names.name_key("Straße") == names.name_key("STRASSE")
    assert names.name_key("ﬁona") == "fiona"  # a ligature is its letters
    assert names.name_key("Ada") != names.name_key("Adä")
    for name in ("Ada", "ͅ", "ǅ", "ﷺ"):
        assert names.name_key(names.name_key(name)) == names.name_key(name)


@pytest.mark.parametrize("char", BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_bidirectional_overrides_and_isolates_are_named_and_refused(char):
    unfit = names.unfit_name(f"evil{char}gnp.exe", "name")
    assert unfit.reason == "invisible_character" and unfit.field == "name"
    assert unfit.message.startswith(f"name: U+{ord(char):04X} ")
    assert "is not allowed" in unfit.message


@pytest.mark.parametrize(
    "name, named",
    [
        ("a\u200bda", "U+200B ZERO WIDTH SPACE"),
        ("a\u200dda", "U+200D ZERO WIDTH JOINER"),
        ("pay\u200cpal", "U+200C ZERO WIDTH NON-JOINER"),  # Latin letters do not join
        ("\u0645\u06cc\u200c", "U+200C ZERO WIDTH NON-JOINER"),  # at the end of the word
        ("\u0915\u200d\u0937", "U+200D ZERO WIDTH JOINER"),  # no virama before it
        ("ada\u00ad", "U+00AD SOFT HYPHEN"),
        ("\ufeffada", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("ada\u2060", "U+2060 WORD JOINER"),
        ("ad\u034fa", "U+034F COMBINING GRAPHEME JOINER"),
        ("A\ufe00da", "U+FE00 VARIATION SELECTOR-1"),
        ("ada\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A"),
        ("\u3164ada", "U+3164 HANGUL FILLER"),
        ("Ada\u00a0Lovelace", "U+00A0 NO-BREAK SPACE"),
        ("Ada\u2028Lovelace", "U+2028 LINE SEPARATOR"),
        ("Ada\tLovelace", "U+0009 CHARACTER TABULATION"),
        ("Ada\ue000", "U+E000 an unnamed character"),
    ],
)
def test_invisible_characters_are_named_and_refused(name, named):
    unfit = names.unfit_name(name, "display_name")
    assert unfit.reason == "invisible_character"
    assert unfit.message.startswith(f"display_name: {named} is not allowed")


@pytest.mark.parametrize(
    "name, char",
    [
        ("p\u0430ypal", "U+0430 CYRILLIC SMALL LETTER A"),  # Latin paypal, a Cyrillic "а"
        ("\u0440\u0430\u0443\u0440\u0430l", "U+006C LATIN SMALL LETTER L"),  # Cyrillic, Latin l
        ("A\u0391da", "U+0391 GREEK CAPITAL LETTER ALPHA"),
        ("The B\u0430kery", "U+0430 CYRILLIC SMALL LETTER A"),
    ],
)
def test_words_mixing_look_alike_scripts_are_refused(name, char):
    unfit = names.unfit_name(name, "name")
    assert unfit.reason == "mixed_scripts"
    assert unfit.message.startswith(f"name: {char} in ")
    assert "write each word in one script" in unfit.message


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",
        "Москва",  # one script, whichever
        "Αθήνα",
        "Bäckerei Süd",
        "Cafe\u0301",  # a combining accent belongs to its letter's script
        "Bakery Москва",  # two scripts, each word in one
        "東京タワー",  # Han and Katakana are written together
        "서울 빵집",
        "O\u2019Brien & Daughters",
        "\u2764\ufe0f Bakery",  # an emoji's presentation selector
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: a non-joiner between letters
        "\u0915\u094d\u200d\u0937",  # Devanagari: a joiner after the virama
        "\U0001f469\u200d\U0001f527 Repairs",  # an emoji sequence (woman mechanic)
        "paypal",
    ],
)
def test_names_in_any_script_pass(name):
    assert names.unfit_name(name, "name") is None


@pytest.mark.parametrize("password", ["password", "12345678", "qwertyuiop", "iloveyou"])
def test_the_most_common_passwords_are_refused(password):
    unfit = names.unfit_password(password)
    assert unfit.reason == "weak_password"
    assert unfit.message.startswith("password: this is one of the most common passwords;")


def test_passwords_made_from_the_members_name_or_small_changes_are_refused():
    made = names.unfit_password("lovelace1815", user_inputs=["ada", "Ada Lovelace"])
    assert "made from your name" in made.message
    assert "small changes" in names.unfit_password("passw0rd!", "new_password").message
    assert names.unfit_password("passw0rd!", "new_password").field == "new_password"


def test_good_passwords_pass_and_long_ones_are_scored_by_their_start():
    for password in ("correct horse", "battery staple", "another password"):
        assert names.unfit_password(password) is None
    # zxcvbn takes at most 72 characters (its matching is quadratic): the rest is not scored.
    assert names.unfit_password("correct horse battery staple " * 35) is None
    assert names.unfit_password("a" * 1024).reason == "weak_password"


# -- the service and the database (SQLite and PostgreSQL) ---------------------------------------


def test_a_name_in_another_case_or_width_is_taken(council_store):
    ada = register(council_store, "Ada")
    for spelling in ("ada", "ADA", "Ａｄａ", "ａｄａ"):
        with pytest.raises(s.Conflict) as refused:
            register(council_store, spelling)
        assert refused.value.reason == "username_taken" and refused.value.field == "username"
    assert register(council_store, "Adam") == ada + 1


def test_the_database_refuses_two_accounts_with_one_folded_name(council_store):
    """Written past the service, the unique name_key still refuses the second "ada"."""
    register(council_store, "Ada")
    insert = sa.text(
        "INSERT INTO accounts (username, name_key, display_name, password_hash, created_at) "
        "VALUES ('ADA', 'ada', 'x', 'h', :t)"
    )
    with pytest.raises(IntegrityError), council_store.engine.begin() as conn:
        conn.execute(insert, {"t": T0})
    without_key = sa.text(
        "INSERT INTO accounts (username, display_name, password_hash, created_at) "
        "VALUES ('bea', 'x', 'h', :t)"
    )
    with pytest.raises(IntegrityError), council_store.engine.begin() as conn:
        conn.execute(without_key, {"t": T0})


def test_an_account_name_mixing_look_alike_scripts_is_refused(council_store):
    with pytest.raises(s.Invalid) as refused:
        register(council_store, "p\u0430ypal")
    assert refused.value.reason == "mixed_scripts" and refused.value.field == "username"
    assert "U+0430 CYRILLIC SMALL LETTER A" in refused.value.message


@pytest.mark.parametrize(
    "display_name, reason",
    [("Ada\u202eecalevol", "invisible_character"), ("\u0410da", "mixed_scripts")],
)
def test_a_display_name_passing_for_another_is_refused(council_store, display_name, reason):
    with pytest.raises(s.Invalid) as refused:
        register(council_store, "ada", display_name)
    assert refused.value.reason == reason and refused.value.field == "display_name"


@pytest.mark.parametrize(
    "name, reason, char",
    [
        ("Bakery\u202e", "invisible_character", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("B\u0430kery", "mixed_scripts", "U+0430 CYRILLIC SMALL LETTER A"),
        ("Bake\u200bry", "invisible_character", "U+200B ZERO WIDTH SPACE"),
    ],
)
def test_a_council_name_passing_for_another_is_refused(council_store, name, reason, char):
    founder = register(council_store, "ada")
    s.create_council(council_store, name="Bakery", kind="workplace", founder_id=founder, now=T0)
    with pytest.raises(s.Invalid) as refused:
        s.create_council(council_store, name=name, kind="workplace", founder_id=founder, now=T0)
    assert refused.value.reason == reason and refused.value.field == "name"
    assert refused.value.message.startswith(f"name: {char}")


# -- migration 0009 ---------------------------------------------------------------------------


def test_migration_0009_keys_every_account_and_refuses_colliding_names(tmp_path):
    """A database from before 0009 with "Ada" and "Ａｄａ", "bea" and "BEA": the migration stops,
    changes nothing and names the four accounts; renamed, it keys them all; it goes back down."""
    from alembic import command

    from councilplan.store import migrate

    insert = sa.text(
        "INSERT INTO accounts (id, username, display_name, password_hash, created_at) "
        "VALUES (:id, :name, 'x', 'h', :t)"
    )
    for url, schema in scratch_urls(tmp_path):
        with scratch_engine(url, schema) as engine:
            migrate.upgrade(engine, "0008")
            with engine.begin() as conn:
                for i, name in enumerate(["Ada", "bea", "Ａｄａ", "BEA", "cy"], start=1):
                    conn.execute(insert, {"id": i, "name": name, "t": T0})
            with pytest.raises(RuntimeError) as stopped:
                migrate.upgrade(engine, "0009")
            message = str(stopped.value)
            assert "changed nothing" in message
            assert "accounts 1 'Ada' and 3 'Ａｄａ'" in message
            assert "accounts 2 'bea' and 4 'BEA'" in message
            assert migrate.current_revision(engine) == "0008"
            columns = {c["name"] for c in sa.inspect(engine).get_columns("accounts")}
            assert "name_key" not in columns
            with engine.begin() as conn:
                rows = conn.execute(sa.text("SELECT id, username FROM accounts ORDER BY id"))
                assert [name for _, name in rows] == ["Ada", "bea", "Ａｄａ", "BEA", "cy"]
                conn.execute(sa.text("UPDATE accounts SET username = 'ada-2' WHERE id = 3"))
                conn.execute(sa.text("UPDATE accounts SET username = 'bea-2' WHERE id = 4"))

            migrate.upgrade(engine, "0009")
            with engine.connect() as conn:
                keys = conn.execute(sa.text("SELECT name_key FROM accounts ORDER BY id")).scalars()
                assert list(keys) == ["ada", "bea", "ada-2", "bea-2", "cy"]
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(insert.bindparams(id=6, name="zed", t=T0))  # no key: refused

            with engine.begin() as conn:
                config = migrate.alembic_config(url)
                config.attributes["connection"] = conn
                command.downgrade(config, "0008")
            columns = {c["name"] for c in sa.inspect(engine).get_columns("accounts")}
            assert "name_key" not in columns
            with engine.begin() as conn:
                conn.execute(insert, {"id": 6, "name": "ADA", "t": T0})  # 0008's rule again
