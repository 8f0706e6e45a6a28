"""Best-effort conversion of Intel-syntax assembly text without bytes into the normaliser's form.

Handles objdump --no-show-raw-insn, gdb ``disassemble`` and gcc -S -masm=intel
lines. Address prefixes, labels, directives and comments are dropped. Operands
are respaced like capstone prints them (``[rbp - 0x14]``, numbers up to 9 in
decimal). Jumps to lines of the same function become ``.L<k>``, and
``name@PLT`` as well as objdump's ``<name@plt>`` and ``<name@GLIBC_…>``
annotations become ``<name>``. Encodings that only the bytes reveal are left as
written, such as objdump's ``0xffffffff`` where capstone prints ``-1``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from binbridge.binary.normalize import BRANCH_MNEMONICS, PADDING_MNEMONICS, strip_padding
from binbridge.binary.space import import_text, quote_string

_ADDRESS_PREFIXES = (
    re.compile(r"^(?:=>)?\s*0x([0-9a-f]+)(?: <[^>]*>)?:\s*"),  # gdb: "0x401136 <+4>:"
    re.compile(r"^([0-9a-f]+):\s+"),  # objdump --no-show-raw-insn: "401136:"
)
_LABEL = re.compile(r"^([.\w$]+):$")
_OBJDUMP_HEADER = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_STRING_DIRECTIVE = re.compile(r'^\.(?:string|asciz)\s+"((?:[^"\\]|\\.)*)"')
_NOISE = ("Disassembly of section", "file format", "Dump of assembler code", "End of assembler dump")
_SEGMENT_PREFIXES = frozenset({"cs", "ds", "es", "fs", "gs", "ss"})
_PREFIXES = frozenset({"rep", "repe", "repz", "repne", "repnz", "lock", "bnd", "notrack", "data16", "addr32"})
_SIZE_PTR = re.compile(r"\b(byte|word|dword|qword|tbyte|xmmword|ymmword|zmmword|fword|oword) ptr\b", re.IGNORECASE)
_MEMORY = re.compile(r"^(?P<size>\w+ ptr )?(?P<segment>[c-gs]s:)?(?P<outside>[^\[\]]*)\[(?P<inside>[^\]]*)\]$")
_BARE_SEGMENT = re.compile(r"^(?P<size>\w+ ptr )?(?P<segment>[c-gs]s):(?P<value>[-\w]+)$")
_NUMBER = re.compile(r"^-?(?:0x[0-9a-f]+|\d+)$")
_REGISTER = re.compile(r"^(?:[re]?[a-d]x|[re]?[sd]il?|[re]?[sb]pl?|[a-d][lh]|r\d+[dwb]?|[re]?ip|[xyz]mm\d+|st\(?\d?\)?|k[0-7])$")
_REGISTER_32 = re.compile(r",\s*(?:e[a-d]x|e[sd]i|e[sb]p|r\d+d)$")
_SYMBOL_TARGET = re.compile(r"^([.\w$]+)(?:@(\w+))?$")
# The normaliser's own tokens, so that its output pasted back (a dataset's assembly column)
# comes out unchanged: placeholders, <import> names and .L<k> labels (k = instruction index).
_OWN_PLACEHOLDERS = frozenset({"DATA", "FUNC", "ADDR"})
_OWN_IMPORT = re.compile(r"^<[^<>\s]+>$")
_OWN_LABEL = re.compile(r"^\.L\d+$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_OWN_STRING_OPERAND = re.compile(r'^(?:\w+ ptr )?(?:[c-gs]s:)?\[rip \+ "(?:[^"\\]|\\.)*"\]$')
_NUMERIC_TARGET = re.compile(r"^(?:0x)?([0-9a-f]+)(?:\s+<([^>]+)>)?$")
_ANNOTATED_NAME = re.compile(r"<([^>+]+@[^>]+)>")


@dataclass(frozen=True)
class _Instruction:
    address: int | None
    mnemonic: str
    operands: str
    comment: str


@dataclass
class _Function:
    """Instructions between two function labels; labels and addresses map to instruction indices."""

    instructions: list[_Instruction] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    addresses: dict[int, int] = field(default_factory=dict)


@dataclass
class _Program:
    functions: list[_Function] = field(default_factory=list)
    strings: dict[str, str] = field(default_factory=dict)
    function_names: set[str] = field(default_factory=set)


def format_number(value: int) -> str:
    """Print a number as capstone does: 0-9 in decimal, larger magnitudes in hex."""
    if value < 0:
        return "-" + format_number(-value)
    return str(value) if value <= 9 else hex(value)


def _split_operands(text: str) -> list[str]:
    operands, depth, current = [], 0, []
    for character in text:
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        if character == "," and depth == 0:
            operands.append("".join(current).strip())
            current = []
        else:
            current.append(character)
    if current and "".join(current).strip():
        operands.append("".join(current).strip())
    return operands


def _protect_strings(line: str) -> tuple[str, list[str]]:
    """Put a NUL-delimited index in place of each quoted string (the normaliser's string references).

    The spaces, '#' and ';' inside a string then survive comment and word splitting.
    """
    strings: list[str] = []

    def hide(match: re.Match) -> str:
        strings.append(match.group())
        return f"\0{len(strings) - 1}\0"

    return _QUOTED.sub(hide, line), strings


def _restore_strings(text: str, strings: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda match: strings[int(match.group(1))], text)


def _parse(lines: list[str]) -> _Program:
    """Split text into functions at objdump headers and at labels that do not start with ".L"."""
    program = _Program()
    function = _Function()
    program.functions.append(function)
    last_label = None
    for raw in lines:
        line = raw.strip()
        if not line or any(noise in line for noise in _NOISE):
            continue
        header = _OBJDUMP_HEADER.match(line) or _LABEL.match(line)
        if header:
            last_label = header.group(1)
            if not last_label.startswith(".L"):
                program.function_names.add(last_label)
                if function.instructions:
                    function = _Function()
                    program.functions.append(function)
            function.labels[last_label] = len(function.instructions)
            continue
        address = None
        for prefix in _ADDRESS_PREFIXES:
            match = prefix.match(line)
            if match:
                address = int(match.group(1), 16)
                line = line[match.end():]
                break
        if line.startswith("."):
            string = _STRING_DIRECTIVE.match(line)
            if string and last_label is not None:
                program.strings[last_label] = codecs.decode(string.group(1), "unicode_escape")
            continue
        line, strings = _protect_strings(line)
        comment = ""
        for marker in ("#", ";"):
            if marker in line:
                line, _, comment = line.partition(marker)
        words = line.split()
        if words and words[0].endswith(":") and _LABEL.match(words[0]):
            function.labels[words.pop(0)[:-1]] = len(function.instructions)
        if not words:
            continue
        mnemonic_words = []
        while len(words) > 1 and words[0].lower() in _PREFIXES | _SEGMENT_PREFIXES:
            prefix = words.pop(0).lower()
            # objdump's "data16 cs nop WORD PTR cs:[rax+rax*1]": the operand names the segment too.
            if prefix not in _SEGMENT_PREFIXES:
                mnemonic_words.append(prefix)
        if words:
            mnemonic_words.append(words.pop(0).lower())
        if address is not None:
            function.addresses[address] = len(function.instructions)
        operands = _restore_strings(" ".join(words), strings)
        function.instructions.append(_Instruction(address, " ".join(mnemonic_words), operands, comment))
    return program


class _LineRenderer:
    def __init__(self, program: _Program, function: _Function) -> None:
        self.program = program
        self.function = function

    def symbol_text(self, symbol: str, relocation: str | None, code_context: bool) -> str:
        """Print a symbol reference: quoted string, .L label, local token or guessed import."""
        if symbol in _OWN_PLACEHOLDERS or _OWN_IMPORT.match(symbol):
            return symbol
        if symbol in self.program.strings:
            return quote_string(self.program.strings[symbol])
        if symbol in self.program.function_names or symbol.startswith(".L"):
            return "FUNC" if code_context else "DATA"
        if relocation is not None and relocation.upper() not in ("PLT", "GOTPCREL", "GOTPCRELX"):
            return "DATA"
        return import_text(symbol)

    def branch(self, mnemonic: str, operands: str, comment: str) -> str | None:
        is_call = mnemonic.rpartition(" ")[2] == "call"
        numeric = _NUMERIC_TARGET.match(operands.lower())
        if numeric:
            annotation = numeric.group(2) or ""
            if "@" in annotation and "+" not in annotation:
                return import_text(annotation)
            position = self.function.addresses.get(int(numeric.group(1), 16))
            return f".L{position}" if position is not None and not is_call else "FUNC"
        symbolic = _SYMBOL_TARGET.match(operands)
        if symbolic and not _REGISTER.match(operands.lower()):
            symbol, relocation = symbolic.group(1), symbolic.group(2)
            if relocation and (relocation.upper() == "PLT" or relocation.startswith("GLIBC")):
                return import_text(symbol)
            if not is_call and symbol in self.function.labels:
                return f".L{self.function.labels[symbol]}"
            if not is_call and _OWN_LABEL.match(symbol) and not self.function.labels:
                return symbol  # normalised text: .L<k> already names the k-th instruction
            return "FUNC"
        return None

    def memory(self, operand: str, comment: str) -> str:
        match = _MEMORY.match(operand)
        if match is None:
            return operand
        size, segment = (match.group("size") or "").lower(), match.group("segment") or ""
        outside, inside = match.group("outside").strip(), match.group("inside").replace(" ", "")

        terms = re.findall(r"[+-]?[^+-]+", inside)
        symbols = [term.lstrip("+-") for term in terms
                   if not _NUMBER.match(term.lstrip("+")) and not _REGISTER.match(term.lstrip("+-").split("*")[0])]
        if outside and not _NUMBER.match(outside):
            symbols.insert(0, outside)

        if any(term.lstrip("+-") == "rip" for term in terms):
            if symbols:
                symbol, _, relocation = symbols[0].partition("@")
                return f"{size}{segment}[rip + {self.symbol_text(symbol, relocation or None, False)}]"
            annotated = _ANNOTATED_NAME.search(comment)
            return f"{size}{segment}[rip + {import_text(annotated.group(1)) if annotated else 'DATA'}]"

        parts = []
        if outside and _NUMBER.match(outside):
            terms.append(outside if outside.startswith("-") else f"+{outside}")
        for term in terms:
            sign, body = ("-", term[1:]) if term.startswith("-") else ("+", term.lstrip("+"))
            if _NUMBER.match(body):
                value = int(body, 0)
                if value == 0 and len(terms) > 1:
                    continue
                body = format_number(value)
            elif "*" in body:
                register, _, scale = body.partition("*")
                body = register.lower() if scale == "1" else f"{register.lower()}*{scale}"
            elif not _REGISTER.match(body.lower()):
                body = "ADDR"
            else:
                body = body.lower()
            if parts:
                parts.append(f"{sign} {body}")
            else:
                parts.append(body if sign == "+" else f"-{body}")
        return f"{size}{segment}[{' '.join(parts)}]"

    def operand(self, operand: str, comment: str) -> str:
        operand = _SIZE_PTR.sub(lambda match: match.group().lower(), operand)
        if _OWN_STRING_OPERAND.match(operand):
            return operand  # the normaliser's quoted string reference, pasted back
        if "[" in operand:
            return self.memory(operand, comment)
        bare = _BARE_SEGMENT.match(operand)
        if bare:
            value = bare.group("value")
            value = format_number(int(value, 0)) if _NUMBER.match(value.lower()) else value
            return f"{(bare.group('size') or '').lower()}{bare.group('segment').lower()}:[{value}]"
        if operand.upper().startswith("OFFSET FLAT:"):
            symbol = operand[len("OFFSET FLAT:"):]
            if symbol in self.program.strings:
                return quote_string(self.program.strings[symbol])
            return "ADDR"
        if _NUMBER.match(operand.lower()):
            return format_number(int(operand.lower(), 0))
        return operand.lower() if _REGISTER.match(operand.lower()) else operand

    def render(self, instruction: _Instruction) -> str:
        mnemonic, operands = instruction.mnemonic, instruction.operands.strip()
        if mnemonic == "movsx" and ("dword ptr" in operands.lower() or _REGISTER_32.search(operands.lower())):
            mnemonic = "movsxd"  # gcc -S and objdump spelling of the 32-to-64-bit form
        if mnemonic.rpartition(" ")[2] in BRANCH_MNEMONICS:
            target = self.branch(mnemonic, operands, instruction.comment)
            if target is not None:
                return f"{mnemonic} {target}"
        rendered = [self.operand(operand, instruction.comment) for operand in _split_operands(operands)]
        return f"{mnemonic} {', '.join(rendered)}" if rendered else mnemonic


def normalize_plain_lines(lines: list[str]) -> list[str]:
    """Return one normalised instruction per line for Intel-syntax text without instruction bytes."""
    program = _parse(lines)
    output = []
    for function in program.functions:
        renderer = _LineRenderer(program, function)
        # objdump lists the padding after a function's last instruction, which extraction leaves out.
        instructions = strip_padding(function.instructions, _is_padding)
        output.extend(renderer.render(instruction) for instruction in instructions)
    return output


def _is_padding(instruction: "_Instruction") -> bool:
    """Return whether an instruction is alignment padding: nop or int3 with any prefix, or xchg ax, ax."""
    mnemonic = instruction.mnemonic.split()[-1] if instruction.mnemonic else ""
    operands = instruction.operands.replace(" ", "").lower()
    return mnemonic in PADDING_MNEMONICS or (mnemonic == "xchg" and operands == "ax,ax")
