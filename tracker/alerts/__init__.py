"""Safety alerts from every source: raising them (``raising``), who hears of them and who may close them
(``recipients``), acknowledging them (``acknowledge``), and telling people by e-mail, with escalation up the
supervision chain (``notices``, sent by ``mail``)."""
