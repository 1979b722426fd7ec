"""The official VQA accuracy (GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py)
transcribed line by line for Python 3, as the Python peer of epalm's VQA accuracy. PyPI has no
maintained package of it. Kept verbatim where it matters: the contraction table (with its
"somebody'd" -> "somebodyd" entry), punctuation tested against the input rather than the text
being rewritten, re.UNICODE passed as periodStrip.sub's *count* (at most 32 periods removed), GT
answers punctuation-processed only when they are not all identical, leave-one-out over annotators,
round(100 * mean, 2).

evaluate(annotations, predictions) takes the official structures:
  annotations: {question_id: {"answers": [{"answer": str, "answer_id": int}, ...],
                              "question_type": str, "answer_type": str}}
  predictions: [{"question_id": int, "answer": str}, ...]   (the submission format)
and returns {"overall", "perQuestionType", "perAnswerType", "perQuestion"}.
"""
import copy
import re

contractions = {"aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
                "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
                "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
                "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
                "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
                "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
                "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
                "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
                "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
                "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
                "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
                "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
                "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
                "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
                "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
                "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
                "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
                "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
                "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
                "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
                "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
                "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
                "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
                "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
                "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
                "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
                "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
                "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
                "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
                "youll": "you'll", "youre": "you're", "youve": "you've"}
manualMap = {'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4', 'five': '5', 'six': '6',
             'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10'}
articles = ['a', 'an', 'the']
periodStrip = re.compile(r"(?!<=\d)(\.)(?!\d)")
commaStrip = re.compile(r"(\d)(\,)(\d)")
punct = [';', r"/", '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!']


def processPunctuation(inText):
    outText = inText
    for p in punct:
        if (p + ' ' in inText or ' ' + p in inText) or (re.search(commaStrip, inText) != None):
            outText = outText.replace(p, '')
        else:
            outText = outText.replace(p, ' ')
    outText = periodStrip.sub("", outText, re.UNICODE)
    return outText


def processDigitArticle(inText):
    outText = []
    tempText = inText.lower().split()
    for word in tempText:
        word = manualMap.setdefault(word, word)
        if word not in articles:
            outText.append(word)
        else:
            pass
    for wordId, word in enumerate(outText):
        if word in contractions:
            outText[wordId] = contractions[word]
    outText = ' '.join(outText)
    return outText


def evaluate(annotations, predictions, n=2):
    gts = copy.deepcopy(annotations)
    res = {p["question_id"]: p for p in predictions}
    accQA, accQuesType, accAnsType, evalQA = [], {}, {}, {}
    for quesId in [p["question_id"] for p in predictions]:
        resAns = res[quesId]['answer']
        resAns = resAns.replace('\n', ' ')
        resAns = resAns.replace('\t', ' ')
        resAns = resAns.strip()
        resAns = processPunctuation(resAns)
        resAns = processDigitArticle(resAns)
        gtAcc = []
        gtAnswers = [ans['answer'] for ans in gts[quesId]['answers']]
        if len(set(gtAnswers)) > 1:
            for ansDic in gts[quesId]['answers']:
                ansDic['answer'] = processPunctuation(ansDic['answer'])
        for gtAnsDatum in gts[quesId]['answers']:
            otherGTAns = [item for item in gts[quesId]['answers'] if item != gtAnsDatum]
            matchingAns = [item for item in otherGTAns if item['answer'] == resAns]
            acc = min(1, float(len(matchingAns)) / 3)
            gtAcc.append(acc)
        quesType = gts[quesId]['question_type']
        ansType = gts[quesId]['answer_type'] if 'answer_type' in gts[quesId] else 'other'
        avgGTAcc = float(sum(gtAcc)) / len(gtAcc)
        accQA.append(avgGTAcc)
        accQuesType.setdefault(quesType, []).append(avgGTAcc)
        accAnsType.setdefault(ansType, []).append(avgGTAcc)
        evalQA[quesId] = round(100 * avgGTAcc, n)
    return {
        "overall": round(100 * float(sum(accQA)) / len(accQA), n),
        "perQuestionType": {t: round(100 * float(sum(v)) / len(v), n) for t, v in accQuesType.items()},
        "perAnswerType": {t: round(100 * float(sum(v)) / len(v), n) for t, v in accAnsType.items()},
        "perQuestion": evalQA,
    }


def normalize_qa_answer(resAns):
    """The eP-ALM reference's GQA / video-QA normalisation (dataset/gqa.py, dataset/video_vqa.py)."""
    resAns = resAns.strip()
    resAns = processPunctuation(resAns)
    resAns = processDigitArticle(resAns)
    resAns = resAns.replace(',', '')
    return resAns


def qa_accuracy(labels, predictions):
    """evaluate(quesid2ans, normalize_answer=True): labels {question_id: {answer: score}}."""
    score = 0.
    for quesid, ans in predictions.items():
        label = labels[quesid]
        ans = normalize_qa_answer(ans)
        new_label = {normalize_qa_answer(l): label[l] for l in label}
        if ans in new_label:
            score += new_label[ans]
    return score / len(predictions)
