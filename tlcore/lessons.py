"""The Learn page's guided lesson: one small run on the demo data per kind of transfer.

Each lesson is an ordinary RunConfig (so "run it yourself" is an ordinary run in the run
store, and ``python -m benchmarks.learn_results`` trains exactly these configs to make the
stored results the page shows at once), plus the short text that explains it. The
settings are sized to finish in about a minute on two CPU cores: 100 images a class,
48 px, the last two stages trained, 5 epochs. What a lesson shows is read from a run
folder, the bundled one or the user's, by the same functions here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .backbones import create_backbone
from .config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
from .freezing import StageRow, apply_freeze, freeze_table, trainable_fraction
from .metrics import SCALARS
from .registry import Registry
from .run_folder import RunFolder

# Within one point either way, a change is read as "no change": two seeds of the same run
# differ by a few points on these 150 test images (BENCHMARKS.md, da-pretrained).
NOISE_POINTS = 1.0


@dataclass(frozen=True)
class Lesson:
    key: str  # also the bundled result's folder name
    kind: str  # the kind of transfer, as the field names it
    title: str
    idea: str  # a short paragraph (markdown)
    look: str  # what to look at in the figure
    papers: tuple[str, ...]
    strategy: str
    source: str | None = "mnist"  # None: no source, the target's own labels (model-based)
    target_labels: int | None = 0  # labelled target images per class (0: none; None: all)
    params: dict = field(default_factory=dict)
    baseline: str = ""  # what "before" means for this lesson, in words

    def config(self, seed: int = 0) -> RunConfig:
        """The run this lesson trains: small enough for a CPU, with the feature map on (the
        figures read its snapshots) whatever the server's default."""
        return RunConfig(
            data=DataConfig(target="syndigits", source=self.source, per_class=100, image_size=48,
                            target_labels_per_class=self.target_labels),
            model=ModelConfig(freeze="last:2"),
            strategy=StrategyConfig(self.strategy, dict(self.params)),
            schedule=ScheduleConfig(epochs=5),
            feature_map=FeatureMapConfig(every=1, per_domain=300, layout="umap"),
            batch_size=32, seed=seed, name=f"lesson: {self.title.lower()}")


LESSONS: Registry[Lesson] = Registry("lesson")


def register_lesson(lesson: Lesson) -> Lesson:
    LESSONS.register(lesson.key, lesson, lesson.config)
    return lesson


def lessons() -> list[Lesson]:
    """In teaching order."""
    return [entry.info for entry in LESSONS]


def lesson(key: str) -> Lesson:
    return LESSONS.get(key).info


DA_BASELINE = ("a logistic regression on the pretrained network's frozen features, trained on the labelled "
               "source (MNIST) and scored on the target: the model you get with no adaptation at all")

register_lesson(Lesson(
    key="instance", kind="Instance-based transfer", title="Weight the source images",
    idea="Not every source image is equally useful for the target. Instance weighting estimates, for each "
         "labelled source image, how target-like it is: a domain classifier on the pretrained features gives "
         "the odds p(target | x) / p(source | x), an estimate of the density ratio p_T(x) / p_S(x), and each "
         "source image's loss is multiplied by it (clipped, mean 1). It corrects a covariate shift, where the "
         "domains overlap; when they hardly overlap, a few images take all the weight and little changes.",
    look="The map of the pretrained features: circles are target (printed digits), diamonds source (MNIST), "
         "a source point's size is its weight: where the domains overlap, the source points among the target's "
         "grow and the rest shrink.",
    papers=("Shimodaira (2000), Improving predictive inference under covariate shift by weighting the "
            "log-likelihood function, J. Statistical Planning and Inference",
            "Bickel, Brückner & Scheffer (2007), Discriminative learning for differing training and test "
            "distributions, ICML"),
    strategy="instance_weighting", baseline=DA_BASELINE))

register_lesson(Lesson(
    key="feature", kind="Feature-based transfer", title="Align the features",
    idea="Keep one network, and make the source and target features look alike, so that a classifier "
         "learnt on labelled source features also works on the target's. MMD (maximum mean discrepancy) "
         "measures the distance between the two feature distributions through a kernel and is added to the "
         "loss; CORAL matches their covariances instead. The simplest feature-based transfer is the "
         "\"before\" number itself: the pretrained features, frozen, with a linear classifier on top.",
    look="The domain-gap numbers of the feature map over epochs: MMD² and the proxy A-distance (how well a "
         "classifier tells the domains apart, 0 to 2) fall as the features align. The k-NN accuracies say how "
         "well each domain's classes separate in those features: aligned domains are not yet separated classes.",
    papers=("Gretton, Borgwardt, Rasch, Schölkopf & Smola (2012), A kernel two-sample test, JMLR",
            "Long, Cao, Wang & Jordan (2015), Learning transferable features with deep adaptation networks "
            "(DAN), ICML",
            "Sun & Saenko (2016), Deep CORAL: correlation alignment for deep domain adaptation, ECCV workshops"),
    strategy="mmd", baseline=DA_BASELINE))

register_lesson(Lesson(
    key="model", kind="Model-based transfer", title="Choose what to fine-tune",
    idea="Reuse the pretrained network's weights and train on the target's own labels. Early stages compute "
         "general edges and textures that transfer to most images, later ones are specific to ImageNet, so "
         "the usual choice is to freeze the early stages and train the last ones with a new head. The fewer "
         "labels, the more to freeze: training everything on a small set can distort the features that "
         "transferred, which is why a linear probe first, then fine-tuning (LP-FT), often does better.",
    look="The freeze map (parameters per stage; green trains) and the bars: a linear probe on the frozen "
         "features (before) against the fine-tuned network (after), on the same target test images.",
    papers=("Yosinski, Clune, Bengio & Lipson (2014), How transferable are features in deep neural networks?, "
            "NeurIPS",
            "Kumar, Raghunathan, Jones, Ma & Liang (2022), Fine-tuning can distort pretrained features and "
            "underperform out-of-distribution (LP-FT), ICLR"),
    strategy="finetune", source=None, target_labels=None,
    baseline="a logistic regression on the pretrained network's frozen features, trained on the same target "
             "labels"))

register_lesson(Lesson(
    key="adversarial", kind="Adversarial domain adaptation", title="Fool a domain discriminator",
    idea="DANN trains a small discriminator to tell source features from target features, and a gradient "
         "reversal layer turns its gradient around on the way into the network, so the features learn to fool "
         "it while the classifier learns the source labels. The reversal weight lambda ramps from 0 to 1 "
         "(2 / (1 + exp(-10 p)) - 1 over the progress p). Features the discriminator cannot tell apart are "
         "not yet features in which the classes line up: it can help a lot, or hurt.",
    look="The discriminator's accuracy falls toward 50% (it can no longer tell the domains apart) while "
         "lambda rises.",
    papers=("Ganin & Lempitsky (2015), Unsupervised domain adaptation by backpropagation, ICML",
            "Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand & Lempitsky (2016), "
            "Domain-adversarial training of neural networks, JMLR"),
    strategy="dann", baseline=DA_BASELINE))


@dataclass(frozen=True)
class LessonResult:
    """A lesson's run read back: its target test scores before and after transfer."""
    key: str
    before: dict[str, float | None]
    after: dict[str, float | None]
    epochs: int
    wall_s: float | None

    def change(self, score: str = "accuracy") -> float | None:
        """After minus before, in points."""
        a, b = self.after.get(score), self.before.get(score)
        return None if a is None or b is None else 100 * (a - b)

    def verdict(self, score: str = "accuracy") -> str:
        """helped | hurt | no change, with NOISE_POINTS as the line between them."""
        change = self.change(score)
        if change is None:
            return "cannot tell"
        return "helped" if change > NOISE_POINTS else "hurt" if change < -NOISE_POINTS else "no change"


def read_result(key: str, folder: RunFolder) -> LessonResult | None:
    """The finished run's scores (None before its summary is written)."""
    summary = folder.summary()
    if not summary or summary.get("status") != "finished":
        return None
    return LessonResult(key, before={s: summary.get(f"before.target.test.{s}") for s in SCALARS},
                        after={s: summary.get(f"target.test.{s}") for s in SCALARS},
                        epochs=int(summary.get("epochs_run") or 0), wall_s=summary.get("wall_time_s"))


def comparison_rows(results: list[LessonResult], titles: dict[str, str]) -> list[dict]:
    """One row per lesson for the comparison chart and its table: before, after, change, verdict."""
    return [{"lesson": titles.get(r.key, r.key), "before": r.before["accuracy"], "after": r.after["accuracy"],
             "change (points)": r.change(), "verdict": r.verdict()} for r in results]


def freeze_rows(config: RunConfig) -> tuple[list[StageRow], float]:
    """The freeze map of the lesson's network (parameters per stage, trainable or not) and
    the trainable share of all parameters: shapes only, no weights are loaded."""
    backbone = create_backbone(config.model.backbone, "none", num_classes=10)
    apply_freeze(backbone, config.model.freeze, config.model.bn_policy)
    return freeze_table(backbone), trainable_fraction(backbone)


def weight_spread(weights: list[float]) -> dict:
    """How unequal the instance weights are: min, max and the effective sample size
    (sum w)^2 / sum w^2, which equals the number of images when every weight is the same."""
    total, squares = sum(weights), sum(w * w for w in weights)
    return {"min": min(weights), "max": max(weights), "images": len(weights),
            "effective": total * total / squares if squares else 0.0}
