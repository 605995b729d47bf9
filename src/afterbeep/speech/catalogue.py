"""The text of every static prompt, by language and name.

What the shipped recordings say, and what the synthesizer speaks where no recording exists.
Every language has exactly the names of English (a test checks). Callers leaving a message are
addressed formally; Italian speaks to the mailbox owner with "tu", as afterbeep's Italian
e-mails do. Menu keys stay digits ("Press 1"): every voice reads them in its own language.
Digit words are CLDR's counting words (a test compares them with unicode-rbnf).
"""

from __future__ import annotations

__all__ = ["TEXTS"]

_EN = {
    "person_at": "The person at extension",
    "not_available": "is not available.",
    "leave_message": "Please leave your message after the tone. When you are done, "
    "hang up, or press pound.",
    "no_such_mailbox": "Sorry, there is no mailbox at this number. Goodbye.",
    "message_saved": "Your message has been recorded. Goodbye.",
    "operator_unavailable": "The operator cannot be reached. Please leave a message.",
    "transferring": "Please hold while I transfer your call.",
    "mailbox_full": "Sorry, this mailbox is full and cannot take any more messages. "
    "Please try again later. Goodbye.",
    "digit_0": "zero",
    "digit_1": "one",
    "digit_2": "two",
    "digit_3": "three",
    "digit_4": "four",
    "digit_5": "five",
    "digit_6": "six",
    "digit_7": "seven",
    "digit_8": "eight",
    "digit_9": "nine",
    "digit_star": "star",
    "digit_pound": "pound",
    "vm_login": "Please enter your mailbox number, then press pound.",
    "vm_password": "Please enter your PIN, then press pound.",
    "vm_incorrect": "That mailbox or PIN is not correct.",
    "vm_locked": "Too many failed attempts. Please try again later. Goodbye.",
    "vm_goodbye": "Goodbye.",
    "vm_invalid": "That is not a valid choice.",
    "vm_main_menu": "Press 1 to listen to your messages, 2 to change folders, 0 for mailbox "
    "options, star for help, or pound to exit.",
    "vm_message_menu": "Press 5 to repeat the message, 6 for the next message, 4 for the "
    "previous one, 7 to delete it, 8 to forward it, 9 to save it in a folder, 3 then 3 for "
    "its envelope, star for help, or pound to exit.",
    "vm_playback_help": "While a message plays, press star to rewind, pound to skip ahead, "
    "0 to pause, or 2 to start it again.",
    "vm_paused": "Paused. Press any key to continue.",
    "vm_no_more_messages": "There are no more messages.",
    "vm_first_message": "This is the first message.",
    "vm_deleted": "Message deleted.",
    "vm_undeleted": "Message restored.",
    "vm_choose_folder": "Press 0 for new messages, 1 for old messages, 2 for work, 3 for "
    "family, or 4 for friends.",
    "vm_save_to_folder": "In which folder should the message be saved?",
    "vm_forward_to": "Please enter the mailbox number to forward the message to, then press pound.",
    "vm_forward_another": "Press 1 to add another mailbox, or pound when you are done.",
    "vm_forward_options": "Press 1 to record a comment that plays before the message, or 2 "
    "to forward it as it is.",
    "vm_forwarded": "The message has been forwarded.",
    "vm_no_such_mailbox": "There is no mailbox with that number.",
    "vm_options_menu": "Press 1 to record your unavailable greeting, 2 for your busy "
    "greeting, 3 for your name, 4 for your temporary greeting, 5 to change your PIN, 6 to "
    "choose what callers hear before the beep, or star to return to the main menu.",
    "vm_record_after_tone": "Record after the tone, then press pound.",
    "vm_review": "Press 1 to accept this recording, 2 to listen to it, or 3 to record it again.",
    "vm_saved_recording": "Your recording has been saved.",
    "vm_temp_menu": "Press 1 to record your temporary greeting, or 2 to turn it off.",
    "vm_temp_off": "Your temporary greeting is off.",
    "vm_temp_on_reminder": "Your temporary greeting is on.",
    "vm_warning_menu": "Press 1 for the standard announcement before the beep, 2 for your "
    "own recording, or 3 for the beep alone.",
    "vm_choice_saved": "Your choice has been saved.",
    "vm_new_pin": "Please enter your new PIN, then press pound.",
    "vm_repeat_pin": "Please enter your new PIN again, then press pound.",
    "vm_pin_mismatch": "The two PINs did not match.",
    "vm_pin_changed": "Your PIN has been changed.",
    "vm_must_change_pin": "Before you continue, please choose a new PIN.",
    "vm_first_login": "Welcome. Please record your name, then your greeting for callers.",
    "vm_record_name": "Please say your name after the tone, then press pound.",
    "vm_record_unavailable": "Please record your greeting for callers after the tone, then "
    "press pound.",
    "vm_folder_new": "New messages",
    "vm_folder_old": "Old messages",
    "vm_folder_work": "Work",
    "vm_folder_family": "Family",
    "vm_folder_friends": "Friends",
}

_DE = {
    "person_at": "Der Teilnehmer mit der Durchwahl",
    "not_available": "ist zurzeit nicht erreichbar.",
    "leave_message": "Bitte hinterlassen Sie Ihre Nachricht nach dem Signalton. Wenn Sie "
    "fertig sind, legen Sie auf oder drücken Sie die Rautetaste.",
    "no_such_mailbox": "Unter dieser Nummer gibt es leider keine Mailbox. Auf Wiederhören.",
    "message_saved": "Ihre Nachricht wurde aufgezeichnet. Auf Wiederhören.",
    "operator_unavailable": "Die Vermittlung ist nicht erreichbar. Bitte hinterlassen Sie "
    "eine Nachricht.",
    "transferring": "Bitte bleiben Sie dran, Sie werden verbunden.",
    "mailbox_full": "Diese Mailbox ist leider voll und kann keine weiteren Nachrichten "
    "aufnehmen. Bitte versuchen Sie es später noch einmal. Auf Wiederhören.",
    "digit_0": "null",
    "digit_1": "eins",
    "digit_2": "zwei",
    "digit_3": "drei",
    "digit_4": "vier",
    "digit_5": "fünf",
    "digit_6": "sechs",
    "digit_7": "sieben",
    "digit_8": "acht",
    "digit_9": "neun",
    "digit_star": "Stern",
    "digit_pound": "Raute",
    "vm_login": "Bitte geben Sie Ihre Mailboxnummer ein und drücken Sie dann die Rautetaste.",
    "vm_password": "Bitte geben Sie Ihre PIN ein und drücken Sie dann die Rautetaste.",
    "vm_incorrect": "Die Mailboxnummer oder die PIN ist nicht richtig.",
    "vm_locked": "Zu viele Fehlversuche. Bitte versuchen Sie es später noch einmal. "
    "Auf Wiederhören.",
    "vm_goodbye": "Auf Wiederhören.",
    "vm_invalid": "Diese Auswahl ist ungültig.",
    "vm_main_menu": "Drücken Sie die 1, um Ihre Nachrichten abzuhören, die 2, um den Ordner "
    "zu wechseln, die 0 für die Mailbox-Einstellungen, die Sterntaste für Hilfe oder die "
    "Rautetaste zum Beenden.",
    "vm_message_menu": "Drücken Sie die 5, um die Nachricht zu wiederholen, die 6 für die "
    "nächste Nachricht, die 4 für die vorherige, die 7 zum Löschen, die 8 zum Weiterleiten, "
    "die 9, um sie in einem Ordner abzulegen, zweimal die 3 für Absender und Uhrzeit, die "
    "Sterntaste für Hilfe oder die Rautetaste zum Beenden.",
    "vm_playback_help": "Während eine Nachricht läuft, drücken Sie die Sterntaste zum "
    "Zurückspulen, die Rautetaste zum Vorspulen, die 0 für eine Pause oder die 2, um sie von "
    "vorn abzuspielen.",
    "vm_paused": "Pause. Drücken Sie eine beliebige Taste, um fortzufahren.",
    "vm_no_more_messages": "Es gibt keine weiteren Nachrichten.",
    "vm_first_message": "Das ist die erste Nachricht.",
    "vm_deleted": "Nachricht gelöscht.",
    "vm_undeleted": "Nachricht wiederhergestellt.",
    "vm_choose_folder": "Drücken Sie die 0 für neue Nachrichten, die 1 für alte Nachrichten, "
    "die 2 für Arbeit, die 3 für Familie oder die 4 für Freunde.",
    "vm_save_to_folder": "In welchem Ordner soll die Nachricht gespeichert werden?",
    "vm_forward_to": "Bitte geben Sie die Mailboxnummer ein, an die die Nachricht "
    "weitergeleitet werden soll, und drücken Sie dann die Rautetaste.",
    "vm_forward_another": "Drücken Sie die 1, um eine weitere Mailbox hinzuzufügen, oder die "
    "Rautetaste, wenn Sie fertig sind.",
    "vm_forward_options": "Drücken Sie die 1, um einen Kommentar aufzunehmen, der vor der "
    "Nachricht abgespielt wird, oder die 2, um sie unverändert weiterzuleiten.",
    "vm_forwarded": "Die Nachricht wurde weitergeleitet.",
    "vm_no_such_mailbox": "Unter dieser Nummer gibt es keine Mailbox.",
    "vm_options_menu": "Drücken Sie die 1, um Ihre Abwesenheitsansage aufzunehmen, die 2 für "
    "Ihre Besetztansage, die 3 für Ihren Namen, die 4 für Ihre vorübergehende Ansage, die 5, "
    "um Ihre PIN zu ändern, die 6, um festzulegen, was Anrufer vor dem Signalton hören, oder "
    "die Sterntaste, um zum Hauptmenü zurückzukehren.",
    "vm_record_after_tone": "Sprechen Sie nach dem Signalton und drücken Sie dann die Rautetaste.",
    "vm_review": "Drücken Sie die 1, um diese Aufnahme zu übernehmen, die 2, um sie "
    "anzuhören, oder die 3, um sie neu aufzunehmen.",
    "vm_saved_recording": "Ihre Aufnahme wurde gespeichert.",
    "vm_temp_menu": "Drücken Sie die 1, um Ihre vorübergehende Ansage aufzunehmen, oder die "
    "2, um sie auszuschalten.",
    "vm_temp_off": "Ihre vorübergehende Ansage ist ausgeschaltet.",
    "vm_temp_on_reminder": "Ihre vorübergehende Ansage ist eingeschaltet.",
    "vm_warning_menu": "Drücken Sie die 1 für die Standardansage vor dem Signalton, die 2 für "
    "Ihre eigene Aufnahme oder die 3 nur für den Signalton.",
    "vm_choice_saved": "Ihre Auswahl wurde gespeichert.",
    "vm_new_pin": "Bitte geben Sie Ihre neue PIN ein und drücken Sie dann die Rautetaste.",
    "vm_repeat_pin": "Bitte geben Sie Ihre neue PIN noch einmal ein und drücken Sie dann "
    "die Rautetaste.",
    "vm_pin_mismatch": "Die beiden PINs stimmen nicht überein.",
    "vm_pin_changed": "Ihre PIN wurde geändert.",
    "vm_must_change_pin": "Bevor Sie fortfahren, wählen Sie bitte eine neue PIN.",
    "vm_first_login": "Willkommen. Bitte sprechen Sie zuerst Ihren Namen und dann Ihre Ansage "
    "für Anrufer auf.",
    "vm_record_name": "Bitte sprechen Sie nach dem Signalton Ihren Namen und drücken Sie dann "
    "die Rautetaste.",
    "vm_record_unavailable": "Bitte sprechen Sie nach dem Signalton Ihre Ansage für Anrufer "
    "und drücken Sie dann die Rautetaste.",
    "vm_folder_new": "Neue Nachrichten",
    "vm_folder_old": "Alte Nachrichten",
    "vm_folder_work": "Arbeit",
    "vm_folder_family": "Familie",
    "vm_folder_friends": "Freunde",
}

_IT = {
    "person_at": "La persona all'interno",
    "not_available": "non è al momento raggiungibile.",
    "leave_message": "La preghiamo di lasciare un messaggio dopo il segnale acustico. Al "
    "termine, riagganci o prema il tasto cancelletto.",
    "no_such_mailbox": "Spiacenti, a questo numero non corrisponde nessuna casella vocale. "
    "Arrivederci.",
    "message_saved": "Il suo messaggio è stato registrato. Arrivederci.",
    "operator_unavailable": "L'operatore non è raggiungibile. La preghiamo di lasciare un "
    "messaggio.",
    "transferring": "Attenda in linea, la stiamo trasferendo.",
    "mailbox_full": "Spiacenti, questa casella vocale è piena e non può ricevere altri "
    "messaggi. La preghiamo di riprovare più tardi. Arrivederci.",
    "digit_0": "zero",
    "digit_1": "uno",
    "digit_2": "due",
    "digit_3": "tre",
    "digit_4": "quattro",
    "digit_5": "cinque",
    "digit_6": "sei",
    "digit_7": "sette",
    "digit_8": "otto",
    "digit_9": "nove",
    "digit_star": "asterisco",
    "digit_pound": "cancelletto",
    "vm_login": "Inserisci il numero della tua casella vocale, poi premi cancelletto.",
    "vm_password": "Inserisci il tuo PIN, poi premi cancelletto.",
    "vm_incorrect": "Il numero della casella o il PIN non è corretto.",
    "vm_locked": "Troppi tentativi non riusciti. Riprova più tardi. Arrivederci.",
    "vm_goodbye": "Arrivederci.",
    "vm_invalid": "Scelta non valida.",
    "vm_main_menu": "Premi 1 per ascoltare i messaggi, 2 per cambiare cartella, 0 per le "
    "opzioni della casella, asterisco per l'aiuto o cancelletto per uscire.",
    "vm_message_menu": "Premi 5 per riascoltare il messaggio, 6 per il messaggio successivo, "
    "4 per quello precedente, 7 per eliminarlo, 8 per inoltrarlo, 9 per salvarlo in una "
    "cartella, 3 e poi ancora 3 per i dettagli del messaggio, asterisco per l'aiuto o "
    "cancelletto per uscire.",
    "vm_playback_help": "Durante l'ascolto di un messaggio, premi asterisco per tornare "
    "indietro, cancelletto per andare avanti, 0 per la pausa o 2 per ricominciare "
    "dall'inizio.",
    "vm_paused": "In pausa. Premi un tasto qualsiasi per continuare.",
    "vm_no_more_messages": "Non ci sono altri messaggi.",
    "vm_first_message": "Questo è il primo messaggio.",
    "vm_deleted": "Messaggio eliminato.",
    "vm_undeleted": "Messaggio ripristinato.",
    "vm_choose_folder": "Premi 0 per i nuovi messaggi, 1 per i vecchi messaggi, 2 per "
    "lavoro, 3 per famiglia o 4 per amici.",
    "vm_save_to_folder": "In quale cartella vuoi salvare il messaggio?",
    "vm_forward_to": "Inserisci il numero della casella a cui inoltrare il messaggio, poi "
    "premi cancelletto.",
    "vm_forward_another": "Premi 1 per aggiungere un'altra casella, o cancelletto quando hai "
    "finito.",
    "vm_forward_options": "Premi 1 per registrare un commento da ascoltare prima del "
    "messaggio, o 2 per inoltrarlo così com'è.",
    "vm_forwarded": "Il messaggio è stato inoltrato.",
    "vm_no_such_mailbox": "Non esiste nessuna casella con questo numero.",
    "vm_options_menu": "Premi 1 per registrare l'annuncio di assenza, 2 per l'annuncio di "
    "occupato, 3 per il tuo nome, 4 per l'annuncio temporaneo, 5 per cambiare il PIN, 6 per "
    "scegliere cosa sente chi chiama prima del segnale acustico, o asterisco per tornare al "
    "menu principale.",
    "vm_record_after_tone": "Registra dopo il segnale acustico, poi premi cancelletto.",
    "vm_review": "Premi 1 per confermare la registrazione, 2 per ascoltarla o 3 per "
    "registrarla di nuovo.",
    "vm_saved_recording": "La registrazione è stata salvata.",
    "vm_temp_menu": "Premi 1 per registrare l'annuncio temporaneo, o 2 per disattivarlo.",
    "vm_temp_off": "L'annuncio temporaneo è disattivato.",
    "vm_temp_on_reminder": "L'annuncio temporaneo è attivo.",
    "vm_warning_menu": "Premi 1 per l'annuncio standard prima del segnale acustico, 2 per una "
    "tua registrazione o 3 per il solo segnale acustico.",
    "vm_choice_saved": "La tua scelta è stata salvata.",
    "vm_new_pin": "Inserisci il nuovo PIN, poi premi cancelletto.",
    "vm_repeat_pin": "Inserisci di nuovo il nuovo PIN, poi premi cancelletto.",
    "vm_pin_mismatch": "I due PIN non corrispondono.",
    "vm_pin_changed": "Il PIN è stato cambiato.",
    "vm_must_change_pin": "Prima di continuare, scegli un nuovo PIN.",
    "vm_first_login": "Ti diamo il benvenuto. Registra il tuo nome, poi l'annuncio per chi "
    "ti chiama.",
    "vm_record_name": "Dopo il segnale acustico, pronuncia il tuo nome, poi premi cancelletto.",
    "vm_record_unavailable": "Dopo il segnale acustico, registra l'annuncio per chi ti "
    "chiama, poi premi cancelletto.",
    "vm_folder_new": "Nuovi messaggi",
    "vm_folder_old": "Vecchi messaggi",
    "vm_folder_work": "Lavoro",
    "vm_folder_family": "Famiglia",
    "vm_folder_friends": "Amici",
}

# Finnish menus name the action first, "Kuuntele viestit painamalla 1", as Finnish IVRs do;
# "paina" takes the partitive: "paina risuaitaa", "paina tähteä".
_FI = {
    # Followed by the extension's digits, then "not_available".
    "person_at": "Alanumeron",
    "not_available": "käyttäjä ei ole tavoitettavissa.",
    "leave_message": "Jätä viesti äänimerkin jälkeen. Kun olet valmis, sulje puhelin tai "
    "paina risuaitaa.",
    "no_such_mailbox": "Valitettavasti tässä numerossa ei ole vastaajaa. Näkemiin.",
    "message_saved": "Viestisi on tallennettu. Näkemiin.",
    "operator_unavailable": "Vaihdetta ei tavoiteta. Jätä viesti.",
    "transferring": "Odota hetki, yhdistän puhelusi.",
    "mailbox_full": "Valitettavasti tämä vastaaja on täynnä eikä voi ottaa vastaan enempää "
    "viestejä. Yritä myöhemmin uudelleen. Näkemiin.",
    "digit_0": "nolla",
    "digit_1": "yksi",
    "digit_2": "kaksi",
    "digit_3": "kolme",
    "digit_4": "neljä",
    "digit_5": "viisi",
    "digit_6": "kuusi",
    "digit_7": "seitsemän",
    "digit_8": "kahdeksan",
    "digit_9": "yhdeksän",
    "digit_star": "tähti",
    "digit_pound": "risuaita",
    "vm_login": "Näppäile vastaajasi numero ja paina sitten risuaitaa.",
    "vm_password": "Näppäile PIN-koodisi ja paina sitten risuaitaa.",
    "vm_incorrect": "Vastaajan numero tai PIN-koodi on väärä.",
    "vm_locked": "Liian monta epäonnistunutta yritystä. Yritä myöhemmin uudelleen. Näkemiin.",
    "vm_goodbye": "Näkemiin.",
    "vm_invalid": "Virheellinen valinta.",
    "vm_main_menu": "Kuuntele viestit painamalla 1, vaihda kansiota painamalla 2, siirry "
    "vastaajan asetuksiin painamalla 0, kuuntele ohjeet painamalla tähteä tai lopeta "
    "painamalla risuaitaa.",
    "vm_message_menu": "Kuuntele viesti uudelleen painamalla 5, siirry seuraavaan viestiin "
    "painamalla 6 tai edelliseen painamalla 4. Poista viesti painamalla 7, välitä se "
    "painamalla 8 tai tallenna se kansioon painamalla 9. Kuuntele viestin tiedot painamalla "
    "kahdesti 3, ohjeet painamalla tähteä tai lopeta painamalla risuaitaa.",
    "vm_playback_help": "Kun viesti soi, kelaa taaksepäin painamalla tähteä, hyppää "
    "eteenpäin painamalla risuaitaa, pidä tauko painamalla 0 tai aloita alusta painamalla 2.",
    "vm_paused": "Tauko. Jatka painamalla mitä tahansa näppäintä.",
    "vm_no_more_messages": "Muita viestejä ei ole.",
    "vm_first_message": "Tämä on ensimmäinen viesti.",
    "vm_deleted": "Viesti poistettu.",
    "vm_undeleted": "Viesti palautettu.",
    "vm_choose_folder": "Valitse kansio: uudet viestit 0, vanhat viestit 1, työ 2, perhe 3 "
    "tai ystävät 4.",
    "vm_save_to_folder": "Mihin kansioon viesti tallennetaan?",
    "vm_forward_to": "Näppäile sen vastaajan numero, johon viesti välitetään, ja paina "
    "sitten risuaitaa.",
    "vm_forward_another": "Lisää toinen vastaaja painamalla 1 tai paina risuaitaa, kun olet "
    "valmis.",
    "vm_forward_options": "Äänitä ennen viestiä kuuluva saate painamalla 1 tai välitä viesti "
    "sellaisenaan painamalla 2.",
    "vm_forwarded": "Viesti on välitetty.",
    "vm_no_such_mailbox": "Tällä numerolla ei ole vastaajaa.",
    "vm_options_menu": "Äänitä poissaolotervehdys painamalla 1, varattu-tervehdys "
    "painamalla 2, nimesi painamalla 3 tai tilapäinen tervehdys painamalla 4. Vaihda "
    "PIN-koodi painamalla 5. Valitse, mitä soittajat kuulevat ennen äänimerkkiä, painamalla "
    "6. Palaa päävalikkoon painamalla tähteä.",
    "vm_record_after_tone": "Puhu äänimerkin jälkeen ja paina sitten risuaitaa.",
    "vm_review": "Hyväksy äänitys painamalla 1, kuuntele se painamalla 2 tai äänitä se "
    "uudelleen painamalla 3.",
    "vm_saved_recording": "Äänitys on tallennettu.",
    "vm_temp_menu": "Äänitä tilapäinen tervehdys painamalla 1 tai poista se käytöstä painamalla 2.",
    "vm_temp_off": "Tilapäinen tervehdys ei ole käytössä.",
    "vm_temp_on_reminder": "Tilapäinen tervehdys on käytössä.",
    "vm_warning_menu": "Valitse vakioilmoitus ennen äänimerkkiä painamalla 1, oma äänityksesi "
    "painamalla 2 tai pelkkä äänimerkki painamalla 3.",
    "vm_choice_saved": "Valintasi on tallennettu.",
    "vm_new_pin": "Näppäile uusi PIN-koodi ja paina sitten risuaitaa.",
    "vm_repeat_pin": "Näppäile uusi PIN-koodi uudelleen ja paina sitten risuaitaa.",
    "vm_pin_mismatch": "PIN-koodit eivät täsmänneet.",
    "vm_pin_changed": "PIN-koodisi on vaihdettu.",
    "vm_must_change_pin": "Valitse uusi PIN-koodi ennen kuin jatkat.",
    "vm_first_login": "Tervetuloa. Äänitä ensin nimesi ja sitten tervehdys soittajille.",
    "vm_record_name": "Sano nimesi äänimerkin jälkeen ja paina sitten risuaitaa.",
    "vm_record_unavailable": "Äänitä tervehdys soittajille äänimerkin jälkeen ja paina "
    "sitten risuaitaa.",
    "vm_folder_new": "Uudet viestit",
    "vm_folder_old": "Vanhat viestit",
    "vm_folder_work": "Työ",
    "vm_folder_family": "Perhe",
    "vm_folder_friends": "Ystävät",
}

# Greek avoids the Latin "PIN" (a Greek voice would spell it out): "κωδικός" is what Greek
# banks and carriers say. The question mark is the Greek one (;).
_EL = {
    # "Το εσωτερικό … δεν είναι διαθέσιμο": the extension, so no gender for the person.
    "person_at": "Το εσωτερικό",
    "not_available": "δεν είναι διαθέσιμο.",
    "leave_message": "Παρακαλούμε αφήστε το μήνυμά σας μετά τον ήχο. Όταν τελειώσετε, "
    "κλείστε το τηλέφωνο ή πατήστε δίεση.",
    "no_such_mailbox": "Λυπούμαστε, δεν υπάρχει τηλεφωνητής σε αυτόν τον αριθμό. Αντίο σας.",
    "message_saved": "Το μήνυμά σας καταγράφηκε. Αντίο σας.",
    "operator_unavailable": "Το τηλεφωνικό κέντρο δεν είναι διαθέσιμο. Παρακαλούμε αφήστε μήνυμα.",
    "transferring": "Παρακαλούμε περιμένετε, μεταφέρουμε την κλήση σας.",
    "mailbox_full": "Λυπούμαστε, ο τηλεφωνητής είναι γεμάτος και δεν μπορεί να δεχτεί άλλα "
    "μηνύματα. Παρακαλούμε δοκιμάστε ξανά αργότερα. Αντίο σας.",
    "digit_0": "μηδέν",
    "digit_1": "ένα",
    "digit_2": "δύο",
    "digit_3": "τρία",
    "digit_4": "τέσσερα",
    "digit_5": "πέντε",
    "digit_6": "έξι",
    "digit_7": "επτά",
    "digit_8": "οκτώ",
    "digit_9": "εννέα",
    "digit_star": "αστερίσκος",
    "digit_pound": "δίεση",
    "vm_login": "Πληκτρολογήστε τον αριθμό του τηλεφωνητή σας και πατήστε δίεση.",
    "vm_password": "Πληκτρολογήστε τον κωδικό σας και πατήστε δίεση.",
    "vm_incorrect": "Ο αριθμός τηλεφωνητή ή ο κωδικός δεν είναι σωστός.",
    "vm_locked": "Πάρα πολλές αποτυχημένες προσπάθειες. Δοκιμάστε ξανά αργότερα. Αντίο σας.",
    "vm_goodbye": "Αντίο σας.",
    "vm_invalid": "Μη έγκυρη επιλογή.",
    "vm_main_menu": "Πατήστε 1 για να ακούσετε τα μηνύματά σας, 2 για να αλλάξετε φάκελο, 0 "
    "για τις ρυθμίσεις του τηλεφωνητή, αστερίσκο για βοήθεια ή δίεση για έξοδο.",
    "vm_message_menu": "Πατήστε 5 για να ακούσετε ξανά το μήνυμα, 6 για το επόμενο μήνυμα, "
    "4 για το προηγούμενο, 7 για διαγραφή, 8 για προώθηση, 9 για αποθήκευση σε φάκελο, 3 και "
    "ξανά 3 για τα στοιχεία του μηνύματος, αστερίσκο για βοήθεια ή δίεση για έξοδο.",
    "vm_playback_help": "Κατά την αναπαραγωγή ενός μηνύματος, πατήστε αστερίσκο για να "
    "γυρίσετε πίσω, δίεση για να προχωρήσετε μπροστά, 0 για παύση ή 2 για να ξεκινήσει από "
    "την αρχή.",
    "vm_paused": "Παύση. Πατήστε οποιοδήποτε πλήκτρο για να συνεχίσετε.",
    "vm_no_more_messages": "Δεν υπάρχουν άλλα μηνύματα.",
    "vm_first_message": "Αυτό είναι το πρώτο μήνυμα.",
    "vm_deleted": "Το μήνυμα διαγράφηκε.",
    "vm_undeleted": "Το μήνυμα επαναφέρθηκε.",
    "vm_choose_folder": "Πατήστε 0 για τα νέα μηνύματα, 1 για τα παλιά μηνύματα, 2 για την "
    "εργασία, 3 για την οικογένεια ή 4 για τους φίλους.",
    "vm_save_to_folder": "Σε ποιον φάκελο να αποθηκευτεί το μήνυμα;",
    "vm_forward_to": "Πληκτρολογήστε τον αριθμό του τηλεφωνητή στον οποίο θα προωθηθεί το "
    "μήνυμα και πατήστε δίεση.",
    "vm_forward_another": "Πατήστε 1 για να προσθέσετε άλλον τηλεφωνητή ή δίεση όταν τελειώσετε.",
    "vm_forward_options": "Πατήστε 1 για να ηχογραφήσετε ένα σχόλιο που θα ακούγεται πριν από "
    "το μήνυμα ή 2 για να το προωθήσετε ως έχει.",
    "vm_forwarded": "Το μήνυμα προωθήθηκε.",
    "vm_no_such_mailbox": "Δεν υπάρχει τηλεφωνητής με αυτόν τον αριθμό.",
    "vm_options_menu": "Πατήστε 1 για να ηχογραφήσετε το μήνυμα όταν δεν είστε διαθέσιμοι, 2 "
    "για το μήνυμα όταν η γραμμή είναι κατειλημμένη, 3 για το όνομά σας, 4 για το προσωρινό "
    "μήνυμα, 5 για να αλλάξετε τον κωδικό σας, 6 για να επιλέξετε τι ακούν όσοι σας καλούν "
    "πριν από τον ήχο ή αστερίσκο για να επιστρέψετε στο κεντρικό μενού.",
    "vm_record_after_tone": "Ηχογραφήστε μετά τον ήχο και πατήστε δίεση.",
    "vm_review": "Πατήστε 1 για να κρατήσετε την ηχογράφηση, 2 για να την ακούσετε ή 3 για "
    "να την ηχογραφήσετε ξανά.",
    "vm_saved_recording": "Η ηχογράφησή σας αποθηκεύτηκε.",
    "vm_temp_menu": "Πατήστε 1 για να ηχογραφήσετε το προσωρινό μήνυμα ή 2 για να το "
    "απενεργοποιήσετε.",
    "vm_temp_off": "Το προσωρινό μήνυμα είναι απενεργοποιημένο.",
    "vm_temp_on_reminder": "Το προσωρινό μήνυμα είναι ενεργό.",
    "vm_warning_menu": "Πατήστε 1 για την τυπική ανακοίνωση πριν από τον ήχο, 2 για δική σας "
    "ηχογράφηση ή 3 μόνο για τον ήχο.",
    "vm_choice_saved": "Η επιλογή σας αποθηκεύτηκε.",
    "vm_new_pin": "Πληκτρολογήστε τον νέο σας κωδικό και πατήστε δίεση.",
    "vm_repeat_pin": "Πληκτρολογήστε ξανά τον νέο σας κωδικό και πατήστε δίεση.",
    "vm_pin_mismatch": "Οι δύο κωδικοί δεν ταιριάζουν.",
    "vm_pin_changed": "Ο κωδικός σας άλλαξε.",
    "vm_must_change_pin": "Πριν συνεχίσετε, επιλέξτε έναν νέο κωδικό.",
    "vm_first_login": "Καλώς ήρθατε. Ηχογραφήστε το όνομά σας και μετά το μήνυμα για όσους "
    "σας καλούν.",
    "vm_record_name": "Πείτε το όνομά σας μετά τον ήχο και πατήστε δίεση.",
    "vm_record_unavailable": "Ηχογραφήστε μετά τον ήχο το μήνυμα για όσους σας καλούν και "
    "πατήστε δίεση.",
    "vm_folder_new": "Νέα μηνύματα",
    "vm_folder_old": "Παλιά μηνύματα",
    "vm_folder_work": "Εργασία",
    "vm_folder_family": "Οικογένεια",
    "vm_folder_friends": "Φίλοι",
}

# Russian menus put the purpose first, "Для прослушивания сообщений нажмите 1", and keys
# named by a noun take the accusative: "нажмите решётку", "нажмите звёздочку".
_RU = {
    "person_at": "Абонент с добавочным номером",
    "not_available": "сейчас недоступен.",
    "leave_message": "Оставьте сообщение после сигнала. Когда закончите, положите трубку "
    "или нажмите решётку.",
    "no_such_mailbox": "К сожалению, по этому номеру нет голосового ящика. До свидания.",
    "message_saved": "Ваше сообщение записано. До свидания.",
    "operator_unavailable": "Оператор недоступен. Пожалуйста, оставьте сообщение.",
    "transferring": "Пожалуйста, подождите, соединяю.",
    "mailbox_full": "К сожалению, этот голосовой ящик переполнен и не может принять новые "
    "сообщения. Пожалуйста, позвоните позже. До свидания.",
    "digit_0": "ноль",
    "digit_1": "один",
    "digit_2": "два",
    "digit_3": "три",
    "digit_4": "четыре",
    "digit_5": "пять",
    "digit_6": "шесть",
    "digit_7": "семь",
    "digit_8": "восемь",
    "digit_9": "девять",
    "digit_star": "звёздочка",
    "digit_pound": "решётка",
    "vm_login": "Введите номер голосового ящика и нажмите решётку.",
    "vm_password": "Введите ПИН-код и нажмите решётку.",
    "vm_incorrect": "Неверный номер ящика или ПИН-код.",
    "vm_locked": "Слишком много неудачных попыток. Пожалуйста, попробуйте позже. До свидания.",
    "vm_goodbye": "До свидания.",
    "vm_invalid": "Неверный выбор.",
    "vm_main_menu": "Для прослушивания сообщений нажмите 1, для смены папки — 2, для "
    "настроек ящика — 0, для справки — звёздочку, для выхода — решётку.",
    "vm_message_menu": "Чтобы повторить сообщение, нажмите 5, для следующего сообщения — 6, "
    "для предыдущего — 4, для удаления — 7, для пересылки — 8, для сохранения в папку — 9, "
    "для сведений о сообщении — 3 и ещё раз 3, для справки — звёздочку, для выхода — "
    "решётку.",
    "vm_playback_help": "Во время прослушивания нажмите звёздочку, чтобы перемотать назад, "
    "решётку — чтобы перемотать вперёд, 0 — чтобы поставить на паузу, 2 — чтобы начать "
    "сначала.",
    "vm_paused": "Пауза. Нажмите любую клавишу, чтобы продолжить.",
    "vm_no_more_messages": "Больше сообщений нет.",
    "vm_first_message": "Это первое сообщение.",
    "vm_deleted": "Сообщение удалено.",
    "vm_undeleted": "Сообщение восстановлено.",
    "vm_choose_folder": "Для новых сообщений нажмите 0, для старых — 1, для папки Работа — "
    "2, Семья — 3, Друзья — 4.",
    "vm_save_to_folder": "В какую папку сохранить сообщение?",
    "vm_forward_to": "Введите номер ящика, на который нужно переслать сообщение, и нажмите "
    "решётку.",
    "vm_forward_another": "Чтобы добавить ещё один ящик, нажмите 1, а когда закончите, "
    "нажмите решётку.",
    "vm_forward_options": "Чтобы записать комментарий, который прозвучит перед сообщением, "
    "нажмите 1, чтобы переслать сообщение без изменений — 2.",
    "vm_forwarded": "Сообщение переслано.",
    "vm_no_such_mailbox": "Ящика с таким номером нет.",
    "vm_options_menu": "Чтобы записать приветствие на случай, когда вы недоступны, нажмите "
    "1, приветствие на случай, когда вы заняты, — 2, ваше имя — 3, временное приветствие — "
    "4. Чтобы сменить ПИН-код, нажмите 5, чтобы выбрать, что звонящие слышат перед "
    "сигналом, — 6, чтобы вернуться в главное меню, — звёздочку.",
    "vm_record_after_tone": "Говорите после сигнала, затем нажмите решётку.",
    "vm_review": "Чтобы сохранить запись, нажмите 1, чтобы прослушать её — 2, чтобы "
    "записать заново — 3.",
    "vm_saved_recording": "Запись сохранена.",
    "vm_temp_menu": "Чтобы записать временное приветствие, нажмите 1, чтобы отключить его — 2.",
    "vm_temp_off": "Временное приветствие отключено.",
    "vm_temp_on_reminder": "Временное приветствие включено.",
    "vm_warning_menu": "Чтобы перед сигналом звучало стандартное объявление, нажмите 1, "
    "ваша собственная запись — 2, только сигнал — 3.",
    "vm_choice_saved": "Ваш выбор сохранён.",
    "vm_new_pin": "Введите новый ПИН-код и нажмите решётку.",
    "vm_repeat_pin": "Введите новый ПИН-код ещё раз и нажмите решётку.",
    "vm_pin_mismatch": "ПИН-коды не совпадают.",
    "vm_pin_changed": "ПИН-код изменён.",
    "vm_must_change_pin": "Прежде чем продолжить, выберите новый ПИН-код.",
    "vm_first_login": "Добро пожаловать. Запишите своё имя, а затем приветствие для звонящих.",
    "vm_record_name": "Назовите своё имя после сигнала, затем нажмите решётку.",
    "vm_record_unavailable": "Запишите приветствие для звонящих после сигнала, затем нажмите "
    "решётку.",
    "vm_folder_new": "Новые сообщения",
    "vm_folder_old": "Старые сообщения",
    "vm_folder_work": "Работа",
    "vm_folder_family": "Семья",
    "vm_folder_friends": "Друзья",
}

# The text of each prompt: what the recordings must say (and what the synthesizer speaks).
TEXTS: dict[str, dict[str, str]] = {
    "en": _EN,
    "de": _DE,
    "it": _IT,
    "fi": _FI,
    "el": _EL,
    "ru": _RU,
}
