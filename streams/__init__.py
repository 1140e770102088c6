"""The Faust streaming app and the Kafka-facing pieces around it."""
