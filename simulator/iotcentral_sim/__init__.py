"""iotcentral_sim: a local Azure IoT Central device-command service, driven by spec/."""
