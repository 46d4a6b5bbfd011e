"""Date and time formats of the site (Django always localizes; this replaces English's "5 p.m.").

Full timestamps with seconds and the zone everywhere people read times: the admin's lists, change
pages and history. Input formats stay Django's English ones.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
