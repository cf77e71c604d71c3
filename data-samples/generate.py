#!/usr/bin/env python3
"""Writes sieve's sample data: a small Common Crawl-style crawl and small curated corpora.

Everything here is text this project wrote (sentence banks below, recombined with a seeded
generator), so the samples can ship with the repository. Re-running gives byte-identical
files. Usage: python3 data-samples/generate.py [OUT_DIR]   (default: data-samples/)

What the crawl contains, and why:
- ~300 HTML pages of five kinds (news, blog, forum, shop, docs) with the boilerplate that
  extraction must remove: navigation, cookie banners, sidebars, link lists, comments, footers.
- pages in English, German, French, Spanish, Italian and Dutch (language ID and filtering);
- exact duplicates (same article under other URLs) and near duplicates (a few words edited);
- a few pages quoting passages of the sample task set in tasks/ (decontamination);
- short pages and pages about JavaScript (the MT-NLG cleaning rules);
- responses that are not HTML (image, PDF), a 404, a redirect, a windows-1252 page, a chunked
  and gzip-encoded payload;
- malformed records: garbage between records, a wrong Content-Length, a truncated last member.
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import uuid

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261123)

# ---------------------------------------------------------------------------------------
# Sentence banks (written for this project).

EN_SUBJECTS = ["The city council", "A small bakery in the old town", "Our volunteer team", "The river ferry",
               "A group of students", "The regional library", "The new tram line", "A local farmer",
               "The harbour museum", "The weather service", "An independent bookshop", "The football club",
               "The village school", "A young architect", "The night market", "The hospital board"]
EN_VERBS = ["announced plans to", "decided to", "has started to", "wants to", "promised to", "voted to",
            "is preparing to", "was asked to", "agreed to", "hopes to"]
EN_OBJECTS = ["extend its opening hours during the winter", "repair the footbridge over the canal",
              "plant two hundred trees along the main road", "publish its accounts every quarter",
              "offer free lessons to older residents", "reduce the noise from delivery trucks",
              "open a second entrance near the station", "collect old bicycles for repair",
              "share its archive with neighbouring towns", "test a quieter bus on the hill route",
              "build a covered playground behind the hall", "train new guides for the summer season"]
EN_TAILS = ["Residents were invited to comment before the end of the month.",
            "The cost is expected to stay within the approved budget.",
            "Several neighbours said they had waited years for the change.",
            "Work should begin as soon as the ground is dry enough.",
            "A public meeting will be held in the community hall on Thursday evening.",
            "Critics argue that the timetable is too ambitious.",
            "The first results will be presented at the spring fair.",
            "Officials said the idea came from a letter written by a pupil.",
            "Similar projects in other towns have attracted many visitors.",
            "The details are still being discussed with the contractors."]
EN_BLOG = ["I have been baking sourdough bread every weekend for three years now.",
           "The trick that finally worked for me was a longer, cooler rise overnight.",
           "Last spring we packed the tent and cycled along the coast for nine days.",
           "Every evening we looked for a quiet field near the water to sleep.",
           "My grandmother kept a notebook of recipes that nobody else could read.",
           "When I finally deciphered her handwriting, the soup tasted exactly like I remembered.",
           "Learning to play the cello as an adult is humbling and wonderful at the same time.",
           "The first month was mostly squeaks, but the neighbours were kind about it.",
           "Repairing an old radio taught me more about patience than about electronics.",
           "If you try this at home, start with fresh batteries and a clear table."]
EN_FORUM = ["Has anyone else had trouble with the sensor after the last firmware update?",
            "Mine resets every few hours and I cannot find a pattern.",
            "Try removing the battery for a minute and pairing it again from scratch.",
            "That worked for me, although I had to do it twice.",
            "Which brand of hiking boots lasts longest on rocky trails?",
            "I replaced the laces and insoles and my old pair is still going after six years.",
            "Is it normal for a new sourdough starter to smell like nail polish?",
            "Yes, feed it twice a day for a week and the smell will settle down."]
EN_SHOP = ["This ceramic mug holds 350 ml and keeps tea warm for a long time.",
           "Each piece is glazed by hand, so the colour varies slightly.",
           "The wool blanket is woven from undyed yarn from a cooperative in the hills.",
           "Machine washable at thirty degrees; dry flat.",
           "The walnut cutting board is oiled with food-safe linseed oil.",
           "Free delivery on orders over forty euros."]
EN_DOCS = ["To install the tool, download the archive and unpack it into a folder of your choice.",
           "The configuration file is read from the current directory unless a path is given.",
           "Each option has a default value that is printed by the help command.",
           "Logs are written to standard error so that output can be piped to other programs.",
           "When the input is compressed, the format is detected from the first bytes of the file.",
           "Use the dry-run flag to see what would change without writing anything.",
           "The exit code is zero on success and two when some files could not be processed.",
           "Older versions stored their cache in the home directory; it can be deleted safely."]
EN_JS = "Please enable JavaScript in your browser to view this page."

LANGS = {
    "de": ["Die Stadtverwaltung hat beschlossen, die Öffnungszeiten der Bibliothek im Winter zu verlängern.",
           "Viele Anwohner begrüßen die Entscheidung, weil sie abends mehr Zeit zum Lesen haben.",
           "Die neue Straßenbahnlinie soll im nächsten Frühjahr zum ersten Mal fahren.",
           "Auf dem Wochenmarkt verkaufen Bauern aus der Umgebung Gemüse, Käse und frisches Brot.",
           "Der Verein sucht noch freiwillige Helfer für das Sommerfest am See.",
           "Die Kosten für die Renovierung der Schule werden auf zwei Millionen Euro geschätzt.",
           "Nach dem starken Regen mussten mehrere Straßen in der Altstadt gesperrt werden.",
           "Die Ausstellung im Hafenmuseum zeigt alte Karten, Werkzeuge und Fotografien.",
           "Wer mit dem Fahrrad zur Arbeit fährt, bekommt in diesem Jahr einen kleinen Zuschuss.",
           "Die Schülerinnen und Schüler haben einen Garten hinter der Turnhalle angelegt."],
    "fr": ["La mairie a décidé de prolonger les horaires d'ouverture de la bibliothèque cet hiver.",
           "De nombreux habitants saluent cette décision qui leur laisse plus de temps pour lire.",
           "La nouvelle ligne de tramway devrait entrer en service au printemps prochain.",
           "Au marché du samedi, les producteurs de la région vendent des légumes, du fromage et du pain.",
           "L'association cherche encore des bénévoles pour la fête d'été au bord du lac.",
           "Le coût de la rénovation de l'école est estimé à deux millions d'euros.",
           "Après les fortes pluies, plusieurs rues de la vieille ville ont été fermées.",
           "L'exposition du musée du port présente des cartes anciennes, des outils et des photographies.",
           "Les élèves ont aménagé un jardin derrière le gymnase avec l'aide de leurs parents.",
           "Le festival de musique attire chaque année des visiteurs venus de toute la région."],
    "es": ["El ayuntamiento ha decidido ampliar el horario de la biblioteca durante el invierno.",
           "Muchos vecinos celebran la decisión porque tendrán más tiempo para leer por la tarde.",
           "La nueva línea de tranvía empezará a funcionar la próxima primavera.",
           "En el mercado del sábado, los agricultores de la zona venden verduras, queso y pan recién hecho.",
           "La asociación todavía busca voluntarios para la fiesta de verano junto al lago.",
           "El coste de la reforma de la escuela se calcula en dos millones de euros.",
           "Después de las fuertes lluvias, varias calles del casco antiguo tuvieron que cerrarse.",
           "La exposición del museo del puerto muestra mapas antiguos, herramientas y fotografías.",
           "Los alumnos han plantado un huerto detrás del gimnasio con la ayuda de sus familias.",
           "El festival de música atrae cada año a visitantes de toda la comarca."],
    "it": ["Il comune ha deciso di prolungare l'orario di apertura della biblioteca durante l'inverno.",
           "Molti abitanti accolgono con favore la decisione, perché avranno più tempo per leggere la sera.",
           "La nuova linea del tram dovrebbe entrare in servizio la prossima primavera.",
           "Al mercato del sabato i contadini della zona vendono verdura, formaggio e pane fresco.",
           "L'associazione cerca ancora volontari per la festa d'estate sul lago.",
           "Il costo della ristrutturazione della scuola è stimato in due milioni di euro.",
           "Dopo le forti piogge, diverse strade del centro storico sono state chiuse.",
           "La mostra del museo del porto espone vecchie carte, attrezzi e fotografie.",
           "Gli studenti hanno creato un orto dietro la palestra con l'aiuto dei genitori.",
           "Il festival musicale attira ogni anno visitatori da tutta la regione."],
    "nl": ["De gemeente heeft besloten de openingstijden van de bibliotheek in de winter te verlengen.",
           "Veel bewoners zijn blij met het besluit, omdat ze 's avonds meer tijd hebben om te lezen.",
           "De nieuwe tramlijn gaat volgend voorjaar voor het eerst rijden.",
           "Op de zaterdagmarkt verkopen boeren uit de omgeving groente, kaas en vers brood.",
           "De vereniging zoekt nog vrijwilligers voor het zomerfeest bij het meer.",
           "De kosten van de verbouwing van de school worden geschat op twee miljoen euro.",
           "Na de zware regenval moesten verschillende straten in de binnenstad worden afgesloten.",
           "De tentoonstelling in het havenmuseum toont oude kaarten, gereedschap en foto's.",
           "De leerlingen hebben achter de gymzaal een moestuin aangelegd.",
           "Het muziekfestival trekt elk jaar bezoekers uit de hele regio."],
}

NAV = {"en": ["Home", "News", "Sport", "Culture", "Weather", "Contact", "About us"],
       "de": ["Startseite", "Nachrichten", "Sport", "Kultur", "Wetter", "Kontakt", "Impressum"],
       "fr": ["Accueil", "Actualités", "Sport", "Culture", "Météo", "Contact", "Mentions légales"],
       "es": ["Inicio", "Noticias", "Deportes", "Cultura", "Tiempo", "Contacto", "Aviso legal"],
       "it": ["Home", "Notizie", "Sport", "Cultura", "Meteo", "Contatti", "Chi siamo"],
       "nl": ["Home", "Nieuws", "Sport", "Cultuur", "Weer", "Contact", "Colofon"]}
COOKIE = {"en": "We use cookies to improve your experience. By continuing you accept our cookie policy.",
          "de": "Wir verwenden Cookies, um Ihr Erlebnis zu verbessern. Mit der weiteren Nutzung stimmen Sie zu.",
          "fr": "Nous utilisons des cookies pour améliorer votre expérience. En continuant, vous les acceptez.",
          "es": "Utilizamos cookies para mejorar su experiencia. Si continúa, acepta nuestra política.",
          "it": "Utilizziamo i cookie per migliorare la tua esperienza. Continuando accetti la nostra politica.",
          "nl": "Wij gebruiken cookies om uw ervaring te verbeteren. Door verder te gaan gaat u akkoord."}
FOOTER = {"en": "© 2026 Example Media. All rights reserved. Privacy · Terms · Imprint",
          "de": "© 2026 Beispiel Verlag. Alle Rechte vorbehalten. Datenschutz · AGB · Impressum",
          "fr": "© 2026 Exemple Presse. Tous droits réservés. Confidentialité · Conditions",
          "es": "© 2026 Ejemplo Medios. Todos los derechos reservados. Privacidad · Condiciones",
          "it": "© 2026 Esempio Editore. Tutti i diritti riservati. Privacy · Termini",
          "nl": "© 2026 Voorbeeld Media. Alle rechten voorbehouden. Privacy · Voorwaarden"}

# The sample task set (our own questions, in the shape of reading-comprehension tasks).
TASKS = [
    {"id": "q1", "context": "The lighthouse keeper climbed the one hundred and twelve steps every evening to light the lamp before the fishing boats returned to the harbour",
     "question": "How many steps did the keeper climb?", "answer": "one hundred and twelve"},
    {"id": "q2", "context": "Mira planted the pumpkin seeds in late spring and by the first frost the vines had covered the entire fence behind the shed",
     "question": "What covered the fence?", "answer": "the pumpkin vines"},
    {"id": "q3", "context": "The orchestra rehearsed the final movement eleven times because the conductor insisted that the horns enter exactly together",
     "question": "Why did the orchestra rehearse so often?", "answer": "the horns had to enter together"},
    {"id": "q4", "context": "After the storm the villagers carried sandbags to the bakery so that the ovens could stay warm through the night",
     "question": "Where did the villagers carry sandbags?", "answer": "to the bakery"},
    {"id": "q5", "context": "The old map showed a narrow path between the two lakes that no hiker had walked since the bridge collapsed decades ago",
     "question": "What did the map show?", "answer": "a path between two lakes"},
    {"id": "q6", "context": "Every winter the students build a sledge from recycled wood and race it down the hill behind the observatory",
     "question": "What do the students build?", "answer": "a sledge"},
]


def en_paragraph(n):
    out = []
    for _ in range(n):
        out.append(f"{rng.choice(EN_SUBJECTS)} {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)}. {rng.choice(EN_TAILS)}")
    return " ".join(out)


def lang_paragraph(lang, n):
    if lang == "en":
        return en_paragraph(n)
    return " ".join(rng.sample(LANGS[lang], min(n, len(LANGS[lang]))))


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page(lang, kind, title, body_html):
    nav = "".join(f'<li><a href="/{esc(x.lower())}">{esc(x)}</a></li>' for x in NAV[lang])
    related = "".join(f'<li><a href="/a/{rng.randrange(10**6)}">{esc(rng.choice(EN_SUBJECTS))}</a></li>' for _ in range(6))
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif}} .cookie{{position:fixed;bottom:0}}</style>
<script>window.dataLayer=window.dataLayer||[];function track(){{return "<p>not text</p>";}}</script>
</head>
<body class="{kind}">
<div class="cookie-banner" id="cookie-consent"><p>{esc(COOKIE[lang])}</p><button>OK</button></div>
<header><div class="logo">Example</div><nav><ul>{nav}</ul></nav></header>
<main>
{body_html}
</main>
<aside class="sidebar"><h3>Related</h3><ul>{related}</ul></aside>
<footer><p>{esc(FOOTER[lang])}</p></footer>
</body></html>
"""


def article_body(lang, kind, n_paras, extra_html=""):
    paras = [lang_paragraph(lang, rng.randint(2, 5)) for _ in range(n_paras)]
    title = paras[0].split(".")[0][:80]
    html = f"<article><h1>{esc(title)}</h1>" + "".join(f"<p>{esc(p)}</p>" for p in paras) + extra_html + "</article>"
    return title, html, paras


def blog_body():
    paras = [" ".join(rng.sample(EN_BLOG, 3)) for _ in range(rng.randint(3, 6))]
    comments = "".join(f'<div class="comment"><b>user{rng.randrange(100)}</b><p>{esc(rng.choice(["Great post!", "Thanks for sharing.", "I will try this next weekend."]))}</p></div>' for _ in range(3))
    title = paras[0].split(".")[0]
    return title, f"<article><h1>{esc(title)}</h1>" + "".join(f"<p>{esc(p)}</p>" for p in paras) + f"</article><section class='comments'><h2>Comments</h2>{comments}</section>"


def forum_body():
    posts = rng.sample(EN_FORUM, 4)
    title = posts[0]
    html = f"<h1>{esc(title)}</h1>" + "".join(f'<div class="post"><div class="author">member{rng.randrange(500)}</div><div class="post-body"><p>{esc(p)}</p></div></div>' for p in posts)
    return title, html


def shop_body():
    lines = rng.sample(EN_SHOP, 4)
    title = lines[0].split(" holds")[0].split(" is ")[0]
    price = f"{rng.randint(9, 89)}.{rng.choice(['00', '50', '90'])} EUR"
    html = (f'<div class="product"><h1>{esc(title)}</h1><div class="price">{price}</div>'
            f'<button>Add to cart</button><div class="description">' + "".join(f"<p>{esc(l)}</p>" for l in lines) +
            '</div><ul class="breadcrumbs"><li>Shop</li><li>Home</li><li>Kitchen</li></ul></div>')
    return title, html


def docs_body():
    lines = rng.sample(EN_DOCS, 6)
    html = ("<h1>Getting started</h1>" + "".join(f"<p>{esc(l)}</p>" for l in lines[:3]) +
            "<h2>Options</h2><table><tr><th>Option</th><th>Meaning</th></tr>"
            "<tr><td>--dry-run</td><td>Show what would change</td></tr>"
            "<tr><td>--output DIR</td><td>Where results go</td></tr></table>" +
            "<ul>" + "".join(f"<li>{esc(l)}</li>" for l in lines[3:]) + "</ul>")
    return "Getting started", html


# ---------------------------------------------------------------------------------------
# WARC writing (WARC/1.1, one gzip member per record, like Common Crawl).

def record_id(seed):
    return f"<urn:uuid:{uuid.UUID(hashlib.md5(seed.encode()).hexdigest())}>"


def warc_record(rtype, url, rid, date, block, content_type, extra=()):
    head = [f"WARC/1.1", f"WARC-Type: {rtype}", f"WARC-Date: {date}", f"WARC-Record-ID: {rid}"]
    if url:
        head.append(f"WARC-Target-URI: {url}")
    head += list(extra)
    head += [f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


class WarcWriter:
    def __init__(self, name):
        self.name = name
        self.members = []
        self.n = 0

    def add_raw(self, data):
        self.members.append(data)

    def add(self, record_bytes):
        self.members.append(gz(record_bytes))

    def capture(self, url, status, headers, payload, date):
        self.n += 1
        rid = record_id(f"{self.name}:{url}:{self.n}:resp")
        req = f"GET {url.split('/', 3)[-1] and '/' + url.split('/', 3)[-1]} HTTP/1.1\r\nHost: {url.split('/')[2]}\r\nUser-Agent: sieve-sample/1.0\r\n\r\n".encode()
        self.add(warc_record("request", url, record_id(f"{self.name}:{url}:{self.n}:req"), date, req,
                             "application/http; msgtype=request"))
        reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}[status]
        http = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        block = http.encode() + payload
        digest = "sha1:" + hashlib.sha1(payload).hexdigest()
        self.add(warc_record("response", url, rid, date, block, "application/http; msgtype=response",
                             [f"WARC-Payload-Digest: {digest}", "WARC-IP-Address: 192.0.2.10"]))
        meta = f"fetchTimeMs: {rng.randint(20, 900)}\r\n".encode()
        self.add(warc_record("metadata", url, record_id(f"{self.name}:{url}:{self.n}:meta"), date, meta,
                             "application/warc-fields", [f"WARC-Concurrent-To: {rid}"]))

    def write(self, path):
        info = f"software: sieve data-samples generator\r\nformat: WARC File Format 1.1\r\nisPartOf: sieve-sample\r\n".encode()
        head = gz(warc_record("warcinfo", None, record_id(self.name + ":info"), "2026-01-01T00:00:00Z", info,
                              "application/warc-fields", [f"WARC-Filename: {os.path.basename(path)}"]))
        with open(path, "wb") as f:
            f.write(head)
            for m in self.members:
                f.write(m)


def html_headers(charset="utf-8", extra=()):
    return [("Content-Type", f"text/html; charset={charset}"), ("Server", "nginx")] + list(extra)


def main():
    os.makedirs(os.path.join(OUT, "web"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "corpora"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "tasks"), exist_ok=True)
    shards = [WarcWriter("sample-web-00000"), WarcWriter("sample-web-00001")]
    pages = []  # (url, lang, html)
    kinds = ["news"] * 5 + ["blog", "forum", "shop", "docs"]
    lang_weights = [("en", 60), ("de", 12), ("fr", 8), ("es", 8), ("it", 6), ("nl", 6)]
    langs = [l for l, w in lang_weights for _ in range(w)]
    articles = []
    for i in range(280):
        kind = rng.choice(kinds)
        lang = rng.choice(langs) if kind == "news" else "en"
        host = f"{kind}{rng.randrange(40)}.example.{'com' if lang == 'en' else lang}"
        url = f"https://{host}/{kind}/{2026}/{i:04d}-{rng.randrange(10**5)}"
        if kind == "news":
            title, body, paras = article_body(lang, kind, rng.randint(3, 8))
            articles.append((lang, title, body))
        elif kind == "blog":
            title, body = blog_body()
        elif kind == "forum":
            title, body = forum_body()
        elif kind == "shop":
            title, body = shop_body()
        else:
            title, body = docs_body()
        pages.append((url, lang, page(lang, kind, title, body)))

    # Exact duplicates: the same article republished under other URLs (syndication).
    for k in range(8):
        lang, title, body = articles[k]
        for copy in range(1 + k % 3):
            pages.append((f"https://mirror{copy}.example.net/syndicated/{k}", lang, page(lang, "news", title, body)))
    # Near duplicates: a few words changed.
    for k in range(8, 16):
        lang, title, body = articles[k]
        edited = body.replace(" the ", " this ", 2).replace(".", "!", 1)
        pages.append((f"https://copycat.example.org/story/{k}", lang, page(lang, "news", title, edited)))
    # Pages quoting task passages (for decontamination).
    for k, task in enumerate(TASKS[:4]):
        _, body, _ = article_body("en", "news", 3, extra_html=f"<p>As the story goes, {esc(task['context'])}. {esc(en_paragraph(2))}</p>")
        pages.append((f"https://stories.example.com/retold/{k}", "en", page("en", "blog", "Retold stories", body)))
    # Short pages and JavaScript walls (MT-NLG cleaning rules).
    for k in range(6):
        pages.append((f"https://app{k}.example.com/", "en", f"<html><head><title>App</title></head><body><noscript>{EN_JS}</noscript></body></html>"))
    for k in range(6):
        pages.append((f"https://tiny{k}.example.com/note", "en", f"<html><body><p>{esc(rng.choice(EN_TAILS))}</p></body></html>"))

    rng.shuffle(pages)
    for n, (url, lang, html) in enumerate(pages):
        w = shards[n % 2]
        date = f"2026-0{1 + n % 9}-{10 + n % 18:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
        w.capture(url, 200, html_headers(), html.encode("utf-8"), date)
        if n == 40:
            # A page served in windows-1252 (declared in the HTTP header).
            text = page("fr", "news", "Café et crème brûlée", "<article><h1>Café</h1><p>" + esc(LANGS["fr"][0]) + " Déjà vu à l'été.</p></article>")
            w.capture("https://latin.example.fr/cafe", 200, html_headers("windows-1252"), text.encode("cp1252"), date)
        if n == 41:
            # A chunked, gzip-encoded payload stored as sent (as wget and Heritrix do).
            body = gzip.compress(page("en", "blog", "Encoded", "<article><p>" + esc(en_paragraph(3)) + "</p></article>").encode(), mtime=0)
            chunked = b"".join(b"%x\r\n" % len(body[i:i + 700]) + body[i:i + 700] + b"\r\n" for i in range(0, len(body), 700)) + b"0\r\n\r\n"
            w.capture("https://encoded.example.com/post", 200,
                      html_headers(extra=[("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]), chunked, date)
        if n == 42:
            w.capture("https://img.example.com/logo.png", 200, [("Content-Type", "image/png")],
                      b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(300)), date)
            w.capture("https://docs.example.com/manual.pdf", 200, [("Content-Type", "application/pdf")],
                      b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(300)), date)
        if n == 43:
            w.capture("https://news1.example.com/gone", 404, html_headers(), b"<html><body><h1>Not found</h1></body></html>", date)
            w.capture("http://news1.example.com/", 301, [("Location", "https://news1.example.com/")], b"", date)
        if n == 60:
            w.add_raw(b"\x00\x00garbage bytes between two gzip members\n")
        if n == 61:
            # A record whose Content-Length is 40 bytes too long.
            block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>wrong length</p></body></html>"
            rec = warc_record("response", "https://broken.example.com/length", record_id("broken-length"), date, block,
                              "application/http; msgtype=response").replace(
                f"Content-Length: {len(block)}".encode(), f"Content-Length: {len(block) + 40}".encode())
            w.add(rec)
    # The second shard ends with a truncated member (a download cut short).
    last = gz(warc_record("response", "https://cut.example.com/", record_id("cut"), "2026-09-09T09:09:09Z",
                          b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page("en", "news", "Cut", "<p>" + esc(en_paragraph(6)) + "</p>").encode(),
                          "application/http; msgtype=response"))
    shards[1].add_raw(last[: len(last) // 2])
    for w in shards:
        w.write(os.path.join(OUT, "web", w.name + ".warc.gz"))

    # Curated corpora for blending: JSONL with a text field, as users bring them.
    def corpus(name, n, make):
        with open(os.path.join(OUT, "corpora", name + ".jsonl"), "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"{name}-{i}", "text": make(i)}, ensure_ascii=False) + "\n")
    corpus("encyclopedia", 120, lambda i: "\n\n".join(en_paragraph(rng.randint(2, 4)) for _ in range(rng.randint(3, 6))))
    corpus("books", 40, lambda i: "\n\n".join(" ".join(rng.sample(EN_BLOG, 4)) for _ in range(rng.randint(8, 14))))
    corpus("manuals", 60, lambda i: "\n".join(rng.sample(EN_DOCS, 5)))

    with open(os.path.join(OUT, "tasks", "sample-qa.jsonl"), "w", encoding="utf-8") as f:
        for t in TASKS:
            f.write(json.dumps(t) + "\n")


if __name__ == "__main__":
    main()
