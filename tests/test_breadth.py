"""Issue 15 (breadth): the causes added for the issue are present and complete (draft until a
second reader reviews them), and `leuko meds` answers each new drug by its generic and a
common brand name."""

from __future__ import annotations

import pytest

from leuko_cli import meds
from leuko_cli.kb.schema import DRUG_FIELDS, SCHEMA

NEW_CAUSES = {
    "ganciclovir-valganciclovir": "drugs",
    "zidovudine": "drugs",
    "linezolid": "drugs",
    "vancomycin": "drugs",
    "car-t-cell-hematotoxicity": "drugs",
    "fingolimod-s1p-modulators": "drugs",
    "cladribine": "drugs",
    "vexas-syndrome": "bone-marrow",
    "gata2-deficiency": "congenital",
    # breadth 2
    "chloramphenicol": "drugs",
    "flucytosine": "drugs",
    "interferon-alfa": "drugs",
    "parp-inhibitors": "drugs",
    "antibody-drug-conjugates": "drugs",
    "checkpoint-inhibitor-neutropenia": "drugs",
    "bispecific-antibodies": "drugs",
    "jak-inhibitors": "drugs",
    "cdk46-inhibitors": "drugs",
    "phenothiazines": "drugs",
    "nsaids": "drugs",
    "h2-receptor-antagonists": "drugs",
    "allopurinol": "drugs",
    "colchicine-toxicity": "drugs",
    "dimethyl-fumarate": "drugs",
    "chromosome-22q11-deletion": "congenital",
    "pearson-syndrome": "congenital",
    # breadth 3
    "cohen-syndrome": "congenital",
    "hermansky-pudlak-type-2": "congenital",
    "dada2": "congenital",
    "x-linked-agammaglobulinaemia": "congenital",
    "cd40-ligand-deficiency": "congenital",
    "clonal-cytopenia-undetermined-significance": "bone-marrow",
    "thymoma-pure-white-cell-aplasia": "immune",
    "neonatal-maternal-hypertension": "systemic",
    "scrub-typhus": "infections",
    "benzene": "drugs",
    "graves-disease": "immune",
    # breadth 4
    "neonatal-sepsis": "infections",
    "neutropenia-of-prematurity": "idiopathic",
    "disseminated-histoplasmosis": "infections",
    "ebola-virus-disease": "infections",
    # breadth 5
    "arsenic-poisoning": "drugs",
    "hhv6-infection": "infections",
    "sjogren-syndrome": "immune",
    # breadth 6 (rev-7)
    "chikungunya": "infections",
    "kikuchi-fujimoto-disease": "immune",
    "autoimmune-lymphoproliferative-syndrome": "congenital",
    "il6-receptor-antagonists": "drugs",
    "yellow-fever": "infections",
    "leflunomide": "drugs",
    # breadth 6 (new-causes)
    "ace-inhibitors": "drugs",
    "gold-salts": "drugs",
    "hydroxyurea": "drugs",
    "lenalidomide-imids": "drugs",
    "bcr-abl-tkis": "drugs",
    "mirtazapine": "drugs",
}
# drug causes without the `leuko meds` fields, and why: no source read supports a
# drug-mechanism class, and the loader requires all six drug fields or none
NO_MEDS_FIELDS = {
    "dimethyl-fumarate",
    "benzene",  # a workplace toxin, not a medicine
    "arsenic-poisoning",  # a poison; arsenic trioxide the medicine is not this entry
}
# (generic, brand) -> cause
NEW_DRUGS = [
    ("valganciclovir", "Valcyte", "ganciclovir-valganciclovir"),
    ("zidovudine", "Retrovir", "zidovudine"),
    ("linezolid", "Zyvox", "linezolid"),
    ("vancomycin", "Vancocin", "vancomycin"),
    ("tisagenlecleucel", "Kymriah", "car-t-cell-hematotoxicity"),
    ("fingolimod", "Gilenya", "fingolimod-s1p-modulators"),
    ("cladribine", "Mavenclad", "cladribine"),
    # breadth 2
    ("chloramphenicol", "Chloromycetin", "chloramphenicol"),
    ("flucytosine", "Ancobon", "flucytosine"),
    ("peginterferon alfa-2a", "Pegasys", "interferon-alfa"),
    ("olaparib", "Lynparza", "parp-inhibitors"),
    ("niraparib", "Zejula", "parp-inhibitors"),
    ("sacituzumab govitecan", "Trodelvy", "antibody-drug-conjugates"),
    ("pembrolizumab", "Keytruda", "checkpoint-inhibitor-neutropenia"),
    ("nivolumab", "Opdivo", "checkpoint-inhibitor-neutropenia"),
    ("teclistamab", "Tecvayli", "bispecific-antibodies"),
    ("ruxolitinib", "Jakafi", "jak-inhibitors"),
    ("palbociclib", "Ibrance", "cdk46-inhibitors"),
    ("chlorpromazine", "Largactil", "phenothiazines"),
    ("indomethacin", "Indocin", "nsaids"),
    ("diclofenac", "Voltaren", "nsaids"),
    ("cimetidine", "Tagamet", "h2-receptor-antagonists"),
    ("ranitidine", "Zantac", "h2-receptor-antagonists"),
    ("allopurinol", "Zyloprim", "allopurinol"),
    ("colchicine", "Colcrys", "colchicine-toxicity"),
    # breadth 6 (rev-7)
    ("tocilizumab", "Actemra", "il6-receptor-antagonists"),
    ("sarilumab", "Kevzara", "il6-receptor-antagonists"),
    ("leflunomide", "Arava", "leflunomide"),
    # breadth 6 (new-causes)
    ("captopril", "Capoten", "ace-inhibitors"),
    ("benazepril", "Lotensin", "ace-inhibitors"),
    ("auranofin", "Ridaura", "gold-salts"),
    ("hydroxyurea", "Droxia", "hydroxyurea"),
    ("hydroxycarbamide", "Siklos", "hydroxyurea"),
    ("lenalidomide", "Revlimid", "lenalidomide-imids"),
    ("pomalidomide", "Pomalyst", "lenalidomide-imids"),
    ("imatinib", "Gleevec", "bcr-abl-tkis"),
    ("dasatinib", "Sprycel", "bcr-abl-tkis"),
    ("mirtazapine", "Remeron", "mirtazapine"),
]
REQUIRED = [k for k, (_kind, required, _extra) in SCHEMA["causes"].items() if required]


@pytest.mark.parametrize(("cause_id", "category"), sorted(NEW_CAUSES.items()))
def test_new_cause_is_complete_and_draft(kb, cause_id, category):
    cause = kb.get("causes", cause_id)
    assert cause is not None, cause_id
    assert cause["category"] == category
    for field in REQUIRED:
        assert cause[field] not in (None, "", []), (cause_id, field)
    # Written as draft; only a second reader may mark it reviewed, and then with a review record.
    assert cause["review_status"] in ("draft", "reviewed"), cause_id
    if cause["review_status"] == "reviewed":
        assert cause["review"] and all(r["checked"] for r in cause["review"]), cause_id
    if category == "drugs" and cause_id not in NO_MEDS_FIELDS:
        for field in DRUG_FIELDS:
            assert cause[field], (cause_id, field)


@pytest.mark.parametrize(("generic", "brand", "cause_id"), NEW_DRUGS)
def test_meds_answers_generic_and_brand(kb, generic, brand, cause_id):
    for name in (generic, brand.upper()):
        (res,) = meds.look_up(kb, [name])
        assert res["found"], name
        assert cause_id in [e["cause"] for e in res["entries"]], name


def test_eha_guideline_is_a_confirmed_source(kb):
    ref = kb.get("references", "fioredda2023")
    assert ref["doi"] == "10.1097/HS9.0000000000000872" and ref["verified"]
