"""Loading the five import files of docs/operations.md ("Import files"): `sirefund import`.

The package's parts: :mod:`.fields` parses one CSV value (pure), :mod:`.kinds` holds the five
kinds (file columns, row validation, target model), :mod:`.batch` what the kinds share (rows,
persons and units, the insert-or-update decision), :mod:`.bulk` the driver-level statements
with table and column names taken from the models, and :mod:`.loader` the file itself.

:func:`import_file` reads one UTF-8 CSV file in a single streaming pass and keeps memory
constant whatever the file's size: rows are validated in Python and written in batches of
``batch_size`` rows, one transaction per batch (a crash keeps the batches already loaded, and
loading again is harmless because ids are keys). Per batch the database sees a constant number
of statements: one ``IN`` look-up of the batch's keys, one of its persons (units) not yet
cached, an insert of the new persons with ids chosen by the loader (so they need no reading
back), one bulk insert of the new rows (multi-row INSERTs on SQLite, COPY on PostgreSQL), and
one executemany of the changed ones. Person and unit ids are remembered in a bounded cache,
so a person paying many times is looked up once. bench/import_and_query.py measures it against
a raw bulk load (bench/RESULTS.md).

The file
--------
A header row, then data rows. Columns may come in any order; extra columns are ignored; a
missing required column (or a header named twice, or an empty file) fails the whole file with
:class:`~sirefund.domain.errors.Invalid` before anything is loaded.

Rows
----
Each row is validated with the domain's rules (resident ID check digit and birth date, names
without control characters, yuan amounts in plain ASCII digits with at most two decimals and
within the kind's bound, real ``YYYY-MM-DD`` dates within :class:`~.fields.ImportLimits`'
plausible range, period start not after its end, the enumerations). A bad row is written to ``FILE.rejected.csv`` beside the input -- its
original columns plus ``line`` (its line number in the input), ``code`` and ``reason`` (in
Chinese) -- and the good rows load regardless. A run without rejects removes a stale
``FILE.rejected.csv`` of an earlier run, so the file on disk always belongs to the last run.

A field holding a line break is refused (``import.line_break``): in these files it is the
mark of a quote left open, which merged the lines after it into one row; the reason names the
lines. A fatal error part-way through the file -- bytes that are not UTF-8, a NUL byte, a quote
left open to the end of the file or text after a closing quote -- stops the load with
:class:`~.loader.ImportInterrupted` once the rows before it are committed; its message says
on which line and how many rows were committed. Loading the fixed file again continues: the
committed rows come out unchanged.

Keys and re-imports
-------------------
Ids in the files are keys. A row whose key is new is *loaded*; identical to what is stored,
*unchanged*; different, *updated* -- data from HRSS and the medical security bureau moves on
(an arrival status becomes ``arrived``, a channel is corrected) and the latest file is the
truth. Two kinds of change are refused instead:

* moving a record to another owner (person, registration, unit, unit payment):
  ``import.owner_changed``; a key names one payment of one payer for good;
* changing what an active refund application copied (amount, period, year) while such an
  application exists: ``payment.has_application``. Arrival status, channel and payment date
  may still change.

Within one batch a key given twice is loaded once; a second copy with other content is
rejected (``import.duplicate_key``). Across batches the later row updates the earlier one.

Cross-file rules
----------------
* Persons are created from pension, registration and person-line rows (keyed by ID number;
  region from the row, for person lines the region of the unit). A row naming a known ID
  number with another name is rejected (``person.name_mismatch``). Units likewise by tax ID
  (``unit.name_mismatch``).
* A medical payment needs its registration (``medical_payment.unknown_registration``): load
  registrations first. Its insurance year is computed from its period
  (:func:`~sirefund.domain.years.insurance_year_of_period`).
* A person line needs its unit payment (``unit_payment_person.unknown_payment``).
* A unit payment's amount equals the sum of its person lines once both files are in. Lines
  arrive one by one, so the rule enforced while loading is: a line is rejected when adding it
  (or changing its amount) would make the lines of its payment sum to more than the payment's
  amount (``unit_payment.lines_exceed_amount``); a unit payment whose new amount is below its
  lines' sum is rejected (``unit_payment.amount_below_lines``). After a person-lines file the
  summary reports how many unit payments in the database are still *incomplete* (lines short
  of the amount), which is what remains to be fixed by loading the missing lines.
"""

from .batch import CACHE_LIMIT
from .fields import ImportLimits
from .kinds import KINDS
from .loader import ImportInterrupted, ImportSummary, import_file, rejected_path_for

__all__ = [
    "CACHE_LIMIT",
    "KINDS",
    "ImportInterrupted",
    "ImportLimits",
    "ImportSummary",
    "import_file",
    "rejected_path_for",
]
