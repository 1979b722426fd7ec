"""Reference data for epalm's evaluation metrics, from the Python peers.

usage: make_metrics_fixtures.py OUTPUT_DIR

Writes into OUTPUT_DIR:
  ptb.json       captions (generated COCO-style sentences with punctuation, numbers, articles,
                 contractions, quotes, brackets, Unicode, empty ones) and pycocoevalcap's
                 PTBTokenizer output for each (Stanford CoreNLP 3.4.1 run through Java)
  captions.json  caption sets (many / single / twenty references, empty predictions, one image)
                 with pycocoevalcap's tokenized captions and its Bleu(4), Rouge and Cider scores,
                 corpus-level and per image; Meteor's on two sets (null without Java); on the same
                 two, pycocoevalcap's Spice exchange (the input it writes for SPICE, and its scores
                 from an answer in SPICE's output format) and real SPICE scores when the CoreNLP
                 jars SPICE needs are installed (null otherwise)
  vqa.json       VQA annotations + predictions covering every normalisation rule, and the
                 official vqaEval.py's accuracies (tests/bench/vqa_eval_official.py)
  qa.json        GQA-style {answer: score} labels + predictions and the reference's accuracy

Skips the work when the stamp matches this script, the VQA transcription and pycocoevalcap's version.
"""
import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))

import vqa_eval_official  # noqa: E402

SUBJECTS = ["a man", "A woman", "two dogs", "a group of people", "the cat", "an elephant", "three young boys",
            "a black-and-white photo of a train", "a red double-decker bus", "A giraffe", "some people",
            "a little girl", "a plate of food", "a baseball player", "a person", "The kitchen", "an old man",
            "Two zebras", "a skier", "A brown and white dog", "several motorcycles", "one surfer", "ten sheep"]
VERBS = ["riding", "standing next to", "sitting on", "holding", "eating", "walking down", "playing with",
         "looking at", "flying", "laying on top of", "parked in front of", "is riding", "are standing near",
         "is holding up", "jumps over", "rides"]
OBJECTS = ["a horse", "a wave", "the street", "a frisbee", "a table", "a pizza", "a skateboard", "the beach",
           "a snowy hill", "a laptop computer", "a kite", "two umbrellas", "a 10-foot pole", "3 bananas",
           "an orange", "the ocean", "a tennis racket", "a fire hydrant", "a cell phone", "the bed"]
TAILS = ["", " in the park", " on a sunny day", " at night", " near the water", ", while smiling",
         " (in color)", " - with friends", " next to a café", " in São Paulo", " outside Mr. Smith's house",
         " in the U.S.", " at 5:30 p.m.", " with 1,000 people", " for $5", " at 3.5 miles per hour",
         " -- quickly", " in the 1990s", " on the 2nd floor", " at 100%", " [blurry]", " {sic}",
         " in Zürich", " near the ÉCOLE", " at the 日本 restaurant", " with a naïve smile", " & friends",
         " and/or a bike", " e.g. a bike", " etc.", " vs. a car", " on St. Mark's street"]
CONTRACTIONS = ["it's", "there's", "they're", "doesn't", "can't", "won't", "isn't", "I'm", "we'll", "you've",
                "he'd", "don't", "cannot", "gonna", "wanna", "dogs'", "o'clock", "Don't", "CAN'T", "it’s"]
ENDINGS = ["", ".", ".", "!", "?", "...", " .", "!!", "…", "?!"]

EDGE_CAPTIONS = [
    "", " ", ".", "...", "!!!", "a", "A.", "the the the", "a a a a a a", "none", "two and three",
    "A man riding a horse.", "Don't you think it's the colour grey? I'm sure they'll go, we've and he'd.",
    "\"Quoted\" 'single' (paren) [bracket] {brace} a/b a*b a&b x+y=z ~tilde ^caret | pipe",
    "black-and-white dog -- running... fast!!! what?!",
    "   leading spaces and trailing   ",
    "Café naïve résumé ÉCOLE straße 日本語 😀 emoji ✓ check — dash – en … ellipsis “smart” ‘quotes’",
    "cannot gonna wanna gimme lemme 'tis 'twas o'clock rock'n'roll",
    "Two dogs, three cats; four birds: five fish.",
    "a man's dog. the dogs' bones. James' car.",
    "10,000 1.5 .5 -3 +4 1st 2nd 3rd 4th 1990s '90s",
    "a dog. A cat. the end.", "st. louis dr. who etc. vs. inc. co. jr. e.g. i.e. a.m.",
    "it was 5 p.m.", "there are 3 dogs.", "abc. def", "A. B. C.", "the dog's. ",
    "isn't aren't wasn't won't can't shan't ain't don't didn't doesn't",
    "I've you're he's she'd we'll they're y'all ma'am", "DON'T CAN'T IT'S", "dog's dogs' 's ' 'hello' 'em",
    "\"hello,\" he said. 'ok.'", "x,y x;y x:y x!y x?y x.y x-y x_y x=y", "(a) [b] {c} <d> <br> < e >",
    "1/2 3-4 5:6 7.8.9 1,2,3 1.2.3.4 .9 9.", "100% $5 #1 £5 €5 ¥5 ° 90° 5'10\" 5'", "A&P AT&T R&B",
    "mother-in-law 2-year-old x-ray re-enter -ing pre-", "`backtick` ``double''", "foo/bar and/or 1/2-inch",
    "hello@world @user #tag", "tab\tseparated\twords", "a.b.c the.end mid.dle", "Some UPPER case MiXeD",
    "they'd've could've should've would've might've must've", "don’t it’s the dog’s ’hello’",
    "“Hi” said ‘Bob’.", "a cat. The dog", "Mrs. Smith and Ms. Jones and Prof. X and Gen. Y",
    "i. ii. ok. no. yes. ", "the end .", "a man , a plan", "two-way St. Mark's", "he's 5'11.",
    "gotta gotcha cannot Cannot CANNOT", "100km 5kg 3x 2:1 1-2 1990-2000 $100 100$",
    "..", "....", "----", "---", "a--b", "a - b", "x.. y", "dog...", "(\"hello\")", "he said \"no\"",
    "it's 'cool'", "the '90s and 'em", "O'Neil o'neil d'artagnan", "I'd I'll we'd", "ST. LOUIS", "etc",
    "a.m", "U.S.A. U.S", "z.", "a b.", "ok.ok Ok.Ok", "hello?", "hello?!?", "wait!!", "1.5.", "3.",
    "Jan. Feb. Sept. Mon. no. vs vs.", "x-ray. a-b-c. ", "dog's-tail", "tree,house",
    "word_word. word&word WORD&WORD Word&Word", "@@ ## a## a@ a#", "é. ñ!", "line one\nline two",
    "ÀÉÎÕÜ Ångström İstanbul ΣΊΣΥΦΟΣ", "a caption with  two  spaces", "Ünïcödé wörds: ça va, señor?",
]


def generate_captions(rng, count):
    out = []
    for _ in range(count):
        s = rng.choice(SUBJECTS) + " " + rng.choice(VERBS) + " " + rng.choice(OBJECTS) + rng.choice(TAILS)
        if rng.random() < 0.3:
            s = rng.choice(CONTRACTIONS) + " " + s
        if rng.random() < 0.15:
            s = "\"" + s + "\""
        if rng.random() < 0.1:
            s = "“" + s + "”"
        if rng.random() < 0.5:
            s = s[0].upper() + s[1:]
        if rng.random() < 0.1:
            s = s.upper()
        if rng.random() < 0.1:
            s = "  " + s.replace(" ", "  ", 2) + " "
        out.append(s + rng.choice(ENDINGS))
    return out


# Fragments CoreNLP treats specially, mixed at random into sentences. Left out: a capital initial
# ("A.") and "No.", whose period CoreNLP keeps or splits by lookahead rules that reach into the
# next caption of pycocoevalcap's file (docs/development.md).
FRAGMENTS = ["a", "dog", "Dogs", "U.S.", "Mr.", "etc.", "e.g.", "p.m.", "3.5", "1,000", "10:30", "$", "5%", "#1",
             "(", ")", "[", "]", "\"", "'", "`", "``", "''", "“", "”", "‘", "’", "--", "-", "—", "–", "...", "…",
             ",", ";", ":", "!", "?", "!?", ".", "&", "*", "=", "+", "/", "it's", "don't", "can't", "I'm", "you're",
             "they'll", "we've", "she'd", "dogs'", "James'", "o'clock", "'em", "'90s", "rock'n'roll", "cannot",
             "gonna", "x-ray", "black-and-white", "well-known", "and/or", "café", "Zürich", "日本", "ÉCOLE",
             "naïve", "São", "İstanbul", "2nd", "1990s", "@user", "#tag", "www.example.com", "AT&T", "st.",
             "Dr.", "vs.", "Inc.", "one", "TWO", "ten", "none", "the", "An", "A", "THE"]


def generate_noisy(rng, count):
    out = []
    for _ in range(count):
        parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12))]
        text = ""
        for part in parts:
            text += (" " if text else "") + part
        out.append(text)
    return out


def ptb_tokenize(captions):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    tokenized = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(captions)})
    return [tokenized[i][0] for i in range(len(captions))]


def caption_set(name, rng, images, refs_per_image, empty_every=0):
    examples = []
    for i in range(images):
        n = refs_per_image if isinstance(refs_per_image, int) else rng.randint(*refs_per_image)
        refs = generate_captions(rng, n)
        r = rng.random()
        if empty_every and i % empty_every == 0:
            pred = rng.choice(["", " ", "...", "!"])
        elif r < 0.3:
            pred = rng.choice(refs)  # a reference, verbatim
        elif r < 0.6:
            words = rng.choice(refs).split()
            pred = " ".join(w for w in words if rng.random() < 0.8)  # a reference with words dropped
        else:
            pred = generate_captions(rng, 1)[0]
        examples.append({"image_id": str(1000 + i) if i % 3 else "video%d" % i, "prediction": pred,
                         "references": refs})
    return score_set(name, examples)


METEOR_SETS = ("varied-references", "edge-captions")  # METEOR's Java start is slow: two sets
_meteor = []


def meteor_scores(gts, res):
    """pycocoevalcap's Meteor (one Java process for the run), or None without Java."""
    import shutil
    if shutil.which("java") is None:
        return None
    from pycocoevalcap.meteor.meteor import Meteor
    if not _meteor:
        _meteor.append(Meteor())
    score, per_image = _meteor[0].compute_score(gts, res)
    return {"score": float(score), "per_image": [float(x) for x in per_image]}


def meteor_jar():
    import pycocoevalcap.meteor.meteor as m
    return os.path.join(os.path.dirname(os.path.abspath(m.__file__)), m.METEOR_JAR)


SPICE_SETS = ("varied-references", "edge-captions")


def spice_jar():
    import pycocoevalcap.spice.spice as m
    return os.path.join(os.path.dirname(os.path.abspath(m.__file__)), m.SPICE_JAR)


def spice_can_run():
    import shutil
    lib = os.path.join(os.path.dirname(spice_jar()), "lib")
    return shutil.which("java") is not None and all(
        os.path.exists(os.path.join(lib, j)) for j in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar"))


def spice_exchange(gts, res, rng, nan_image=None):
    """pycocoevalcap's Spice.compute_score with the Java run replaced by a writer of SPICE's output format: what
    it writes for SPICE and what it makes of SPICE's answer (NaN F-scores as SPICE writes them: a bare NaN)."""
    import subprocess
    import pycocoevalcap.spice.spice as m
    captured = {}

    def stand_in(cmd, cwd=None):
        in_file, out_file = cmd[4], cmd[cmd.index("-out") + 1]
        with open(in_file) as f:
            captured["input"] = json.load(f)
        items = []
        for entry in captured["input"]:
            scores = {}
            for category in ("All", "Object", "Attribute", "Relation", "Cardinality", "Color", "Size"):
                pr, re_ = rng.random(), rng.random()
                f_score = 2 * pr * re_ / (pr + re_)
                if entry["image_id"] == nan_image or category == "Cardinality":
                    f_score = "NaN"
                scores[category] = {"pr": pr, "re": re_, "f": f_score, "fn": rng.randint(0, 9), "fp": 1, "tp": 2,
                                    "numImages": 1}
            items.append({"image_id": entry["image_id"], "scores": scores, "test_tuples": [], "ref_tuples": []})
        text = json.dumps(items).replace('"NaN"', "NaN")
        captured["output_text"] = text
        with open(out_file, "w") as f:
            f.write(text)
        return 0

    real_call, real_models = subprocess.check_call, m.get_stanford_models
    subprocess.check_call, m.get_stanford_models = stand_in, lambda: None
    try:
        score, per_image = m.Spice().compute_score(gts, res)
    finally:
        subprocess.check_call, m.get_stanford_models = real_call, real_models

    def number(x):
        return None if x != x else float(x)
    return {"input": captured["input"], "output_text": captured["output_text"], "score": number(score),
            "per_image": [number(s["All"]["f"]) for s in per_image]}


def spice_scores(name, gts, res):
    if name not in SPICE_SETS:
        return None
    rng = random.Random(len(gts))
    out = {"exchange": spice_exchange(gts, res, rng),
           "exchange_with_nan": spice_exchange(gts, res, rng, nan_image=sorted(gts)[0]), "real": None}
    if spice_can_run():
        from pycocoevalcap.spice.spice import Spice
        score, per_image = Spice().compute_score(gts, res)
        out["real"] = {"score": float(score), "per_image": [float(s["All"]["f"]) for s in per_image]}
    return out


def score_set(name, examples):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = {e["image_id"]: [{"caption": r} for r in e["references"]] for e in examples}
    res = {e["image_id"]: [{"caption": e["prediction"]}] for e in examples}
    tokenizer = PTBTokenizer()
    gts, res = tokenizer.tokenize(gts), tokenizer.tokenize(res)
    bleu, bleu_per_image = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_per_image = Rouge().compute_score(gts, res)
    cider, cider_per_image = Cider().compute_score(gts, res)
    ids = [e["image_id"] for e in examples]
    meteor = meteor_scores(gts, res) if name in METEOR_SETS else None
    return {
        "METEOR": meteor,
        "SPICE": spice_scores(name, gts, res),
        "name": name,
        "examples": examples,
        "tokenized": [{"prediction": res[i][0], "references": gts[i]} for i in ids],
        "scores": {"Bleu": list(bleu), "ROUGE_L": float(rouge), "CIDEr": float(cider)},
        "per_image": {"Bleu": [[float(x) for x in per_n] for per_n in bleu_per_image],
                      "ROUGE_L": [float(x) for x in rouge_per_image],
                      "CIDEr": [float(x) for x in cider_per_image]},
    }


VQA_ANSWERS = ["yes", "no", "Yes", "yes.", "2", "two", "Two", "none", "zero", "0", "10", "ten", "a dog", "the dog",
               "dog", "an apple", "apple", "dogs", "red", "red and white", "red/white", "red, white",
               "black & white", "black and white", "t-shirt", "t shirt", "tshirt", "dont", "don't", "its", "it's",
               "isnt", "isn't", "whats", "oclock", "3 o'clock", "3:00", "1,000", "1000", "1, 000", "3.5", "3. 5",
               "u.s.", "us", "mr. smith", "left side", "left", "on the left", "(left)", "[none]", "$5", "5 dollars",
               "50%", "50", "wii", "nintendo wii", "somebody'd", "somebodyd", "youre", "you're", "twas", "'twas",
               "hot-dog", "hot dog", "hotdog", "ice cream", "ice-cream", "c++", "c", "#1", "@home", "x=y",
               "Yes!", "no?", "...", ".", "", " yes ", "yes\n", "\tno", "café", "CAFÉ", "Ünïcödé", "a.b.c.d.e.f",
               ".".join("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"), "1.2.3", "mom's", "moms", "ma'am", "maam",
               "I'm", "Im", "Ive", "a_b", "a\\b", "`quoted`", "\"quoted\"", "<html>", "{x}", "semi;colon"]
QUESTION_TYPES = ["what color is the", "how many", "is the", "what is", "none of the above", "where is the"]
ANSWER_TYPES = ["yes/no", "number", "other"]


def vqa_set(rng, questions):
    annotations, predictions = {}, []
    for q in range(questions):
        qid = 100000 + q * 7
        pool = rng.sample(VQA_ANSWERS, rng.randint(1, 4))
        if rng.random() < 0.25:
            answers = [pool[0]] * 10  # all identical: GT left as annotated
        else:
            answers = [rng.choice(pool) for _ in range(10)]
        annotations[qid] = {"answers": [{"answer": a, "answer_id": i + 1} for i, a in enumerate(answers)],
                            "question_type": rng.choice(QUESTION_TYPES), "answer_type": rng.choice(ANSWER_TYPES)}
        if q % 9 != 8:  # some questions are not predicted
            pred = rng.choice(pool + VQA_ANSWERS[:20] + [rng.choice(VQA_ANSWERS)])
            predictions.append({"question_id": qid, "answer": pred})
    rng.shuffle(predictions)
    result = vqa_eval_official.evaluate(annotations, predictions)
    return {
        "annotations": [dict(question_id=k, **v) for k, v in annotations.items()],
        "predictions": predictions,
        "result": {"overall": result["overall"], "perQuestionType": result["perQuestionType"],
                   "perAnswerType": result["perAnswerType"],
                   "perQuestion": [{"question_id": k, "accuracy": v} for k, v in result["perQuestion"].items()]},
    }


def normalization_cases():
    texts = sorted(set(VQA_ANSWERS + EDGE_CAPTIONS))
    return [{"text": t, "processPunctuation": vqa_eval_official.processPunctuation(t),
             "processDigitArticle": vqa_eval_official.processDigitArticle(t),
             "normalize_qa_answer": vqa_eval_official.normalize_qa_answer(t)} for t in texts]


def qa_set(rng, questions):
    labels, predictions = {}, {}
    for q in range(questions):
        qid = 500 + q
        answer = rng.choice(VQA_ANSWERS)
        labels[qid] = {answer: 1.0} if q % 5 else {answer: 1.0, rng.choice(VQA_ANSWERS): 0.5}
        predictions[qid] = rng.choice([answer, rng.choice(VQA_ANSWERS), answer.upper(), " " + answer + "."])
    return {"labels": [{"question_id": k, "scores": v} for k, v in labels.items()],
            "predictions": [{"question_id": k, "answer": v} for k, v in predictions.items()],
            "accuracy": vqa_eval_official.qa_accuracy(labels, predictions)}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import pycocoevalcap
    from importlib.metadata import version
    digest = hashlib.sha256()
    for f in [__file__, vqa_eval_official.__file__]:
        digest.update(open(f, "rb").read())
    digest.update(version("pycocoevalcap").encode())
    stamp = os.path.join(out, "stamp")
    if os.path.exists(stamp) and open(stamp).read() == digest.hexdigest():
        print("metrics fixtures are current")
        return
    rng = random.Random(7)

    sets = [caption_set("coco-like", rng, 300, 5), caption_set("single-reference", rng, 60, 1),
            caption_set("twenty-references", rng, 25, 20), caption_set("varied-references", rng, 80, (1, 8)),
            caption_set("empty-predictions", rng, 40, (2, 6), empty_every=3), caption_set("one-image", rng, 1, 5)]
    edge_examples = [{"image_id": str(i), "prediction": EDGE_CAPTIONS[i],
                      "references": [EDGE_CAPTIONS[(i + 1) % len(EDGE_CAPTIONS)],
                                     EDGE_CAPTIONS[(i * 7 + 3) % len(EDGE_CAPTIONS)]]}
                     for i in range(len(EDGE_CAPTIONS))]
    sets.append(score_set("edge-captions", edge_examples))
    with open(os.path.join(out, "captions.json"), "w", encoding="utf-8") as f:
        json.dump({"pycocoevalcap": version("pycocoevalcap"), "meteor_jar": meteor_jar(), "spice_jar": spice_jar(),
                   "sets": sets}, f,
                  ensure_ascii=False)

    captions = EDGE_CAPTIONS + generate_captions(rng, 2000) + generate_noisy(random.Random(11), 1000)
    with open(os.path.join(out, "ptb.json"), "w", encoding="utf-8") as f:
        json.dump({"captions": captions, "pycocoevalcap": ptb_tokenize(captions)}, f, ensure_ascii=False)

    with open(os.path.join(out, "vqa.json"), "w", encoding="utf-8") as f:
        json.dump({"sets": [vqa_set(rng, 400), vqa_set(rng, 7)], "normalization": normalization_cases()}, f,
                  ensure_ascii=False)
    with open(os.path.join(out, "qa.json"), "w", encoding="utf-8") as f:
        json.dump(qa_set(rng, 300), f, ensure_ascii=False)
    with open(stamp, "w") as f:
        f.write(digest.hexdigest())
    print("wrote metrics fixtures to", out)


if __name__ == "__main__":
    main()
