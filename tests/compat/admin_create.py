"""Creates a topic through confluent-kafka's admin API and waits until its metadata shows every
partition with a leader. kcat has no admin API, so test_kcat.sh creates its topics with this.

    python admin_create.py --bootstrap HOST:PORT --topic NAME --partitions N
"""

import argparse
import sys

import compat_common as cc
from test_confluent import Adapter

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--topic", required=True)
ap.add_argument("--partitions", type=int, required=True)
args = ap.parse_args()
try:
    Adapter(args.bootstrap).create_topic(args.topic, args.partitions)
except cc.CheckFailed as e:
    sys.exit("creating %s: %s" % (args.topic, e))
