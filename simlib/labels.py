"""The label catalog (zh, en) for plot titles, axes, legends and table headers, and the prose of
the comparative report.

Every label shown to a reader comes from :data:`LABELS`, so a notebook switches language with
one parameter. Look labels up with :func:`label`; an unknown key raises ``KeyError`` listing
the closest keys. The report's sentences and column headers are :func:`report_texts`, kept
in ``simlib/data/report_texts.yaml`` (long prose reads better there than in Python strings).
"""

from __future__ import annotations

import difflib
import functools
import numbers

from simlib.yaml_io import load_package_data

LANGS = ("zh", "en")

ZhEn = tuple[str, str]  # (Simplified Chinese, English)

_ENTRIES: dict[str, ZhEn] = {
    # --- member tiers (用户分层)
    "potential": ("潜在用户", "Potential"),
    "active": ("活跃用户", "Active"),
    "loyal": ("忠诚用户", "Loyal"),
    "silent": ("沉默用户", "Silent"),
    "regular": ("普通用户", "Regular"),
    "left": ("已退群", "Left"),
    "tier": ("用户层级", "Tier"),
    "tiered": ("分层运营", "Tiered"),
    "untiered": ("不分层", "Untiered"),
    "tier_flow": ("层级流转", "Tier flows"),
    "tier_share": ("层级占比", "Tier share"),
    # --- content types (内容运营)
    "knowledge": ("知识干货", "Knowledge"),
    "flash_deal": ("限时福利", "Flash deal"),
    "discussion": ("互动话题", "Discussion"),
    "live_preview": ("直播预告", "Live preview"),
    "commercial": ("商业信息", "Commercial"),
    "other": ("其他", "Other"),
    "content_type": ("内容类型", "Content type"),
    "time_slot": ("发布时段", "Time slot"),
    "content_calendar": ("内容日历", "Content calendar"),
    "variant_a": ("方案A", "Variant A"),
    "variant_b": ("方案B", "Variant B"),
    # --- activities (活动策划)
    "checkin": ("打卡挑战", "Check-in challenge"),
    "referral_lottery": ("裂变抽奖", "Referral lottery"),
    "live_flash_sale": ("直播秒杀", "Live flash sale"),
    "ugc": ("UGC创作", "UGC creation"),
    "activity": ("活动", "Activity"),
    "participation": ("参与人数", "Participants"),
    "participation_rate": ("参与率", "Participation rate"),
    "cost_per_head": ("人均成本(元)", "Cost per participant (CNY)"),
    "budget": ("预算(元)", "Budget (CNY)"),
    "budget_share": ("预算占比", "Budget share"),
    # --- monetization (商业变现)
    "ecommerce": ("直营电商", "Direct e-commerce"),
    "paid_knowledge": ("知识付费", "Paid knowledge"),
    "brand_deal": ("品牌合作", "Brand partnership"),
    "membership": ("会员订阅", "Membership"),
    "monetization_mode": ("变现方式", "Monetization mode"),
    "conversion_rate": ("转化率", "Conversion rate"),
    "acceptance": ("用户接受度", "Member acceptance"),
    "revenue": ("收入(元)", "Revenue (CNY)"),
    "revenue_per_member": ("人均收入(元)", "Revenue per member (CNY)"),
    "commercial_share": ("商业信息占比", "Commercial message share"),
    "repurchase_rate": ("复购率", "Repurchase rate"),
    "ltv": ("用户生命周期价值(元)", "Lifetime value (CNY)"),
    "clv": ("客户终身价值(元)", "Customer lifetime value (CNY)"),
    "expected_purchases": ("预期购买次数", "Expected purchases"),
    "p_alive": ("存活概率", "P(alive)"),
    "frequency": ("复购次数", "Repeat purchases"),
    "recency": ("最近购买时间", "Recency"),
    "monetary_value": ("平均客单价(元)", "Average order value (CNY)"),
    "actual": ("实际值", "Actual"),
    "predicted": ("预测值", "Predicted"),
    "calibration": ("校准期", "Calibration period"),
    "holdout": ("验证期", "Holdout period"),
    # --- risk types (风险控制)
    "info_leak": ("信息泄露", "Information leak"),
    "opinion_crisis": ("舆论危机", "Public-opinion crisis"),
    "data_loss": ("数据丢失", "Data loss"),
    "violation": ("违规操作", "Rule violation"),
    "fraud_spam": ("诈骗引流", "Fraud / spam"),
    "abuse": ("辱骂攻击", "Abuse"),
    "risk_type": ("风险类型", "Risk type"),
    "incidents_per_year": ("年均事件数", "Incidents per year"),
    "major_crises_per_year": ("年均重大危机", "Major crises per year"),
    "response_hours": ("响应时长(小时)", "Response time (hours)"),
    "restore_success": ("恢复成功率", "Restore success rate"),
    "precision": ("精确率", "Precision"),
    "recall": ("召回率", "Recall"),
    "f1": ("F1值", "F1 score"),
    "flagged": ("已拦截", "Flagged"),
    "warning_level": ("预警等级", "Warning level"),
    "blacklist": ("黑名单", "Blacklist"),
    # --- channels (跨平台)
    "organic": ("自然流量", "Organic"),
    "referral": ("好友邀请", "Referral"),
    "douyin": ("抖音", "Douyin"),
    "xiaohongshu": ("小红书", "Xiaohongshu"),
    "unknown": ("未知", "Unknown"),
    "channel": ("来源渠道", "Channel"),
    "channel_mix": ("渠道结构", "Channel mix"),
    "overlap": ("跨平台重叠度", "Cross-platform overlap"),
    "funnel_stage": ("漏斗阶段", "Funnel stage"),
    "ltv_by_channel": ("各渠道LTV(元)", "LTV by channel (CNY)"),
    # --- KPIs (数据监测)
    "retention_d30": ("30日留存率", "30-day retention"),
    "retention_d90": ("90日留存率", "90-day retention"),
    "retention": ("留存率", "Retention"),
    "messages_per_100_members_per_day": ("日均发言量(条/百人)", "Messages per 100 members per day"),
    "revisit_7d": ("七日二次访问率", "7-day revisit rate"),
    "activity_conversion": ("活动参与转化率", "Activity conversion"),
    "share_rate": ("内容分享率", "Share rate"),
    "open_rate": ("打开率", "Open rate"),
    "interaction_rate": ("互动转化率", "Interaction rate"),
    "dwell_minutes": ("日均停留时长(分钟)", "Daily dwell time (minutes)"),
    "health_threshold": ("健康阈值", "Health threshold"),
    "alert": ("预警", "Alert"),
    "kpi": ("指标", "KPI"),
    "value": ("数值", "Value"),
    "target": ("目标值", "Target"),
    "baseline": ("基准方案", "Baseline"),
    "difference": ("差值", "Difference"),
    "lift": ("提升幅度", "Lift"),
    "ci_95": ("95%置信区间", "95% interval"),
    "p_value": ("p值", "p-value"),
    "sample_size": ("样本量", "Sample size"),
    "power": ("检验功效", "Power"),
    "prob_b_better": ("B优于A的概率", "P(B better than A)"),
    # --- money and effort
    "cost": ("成本(元)", "Cost (CNY)"),
    "roi": ("投资回报率", "ROI"),
    "profit": ("利润(元)", "Profit (CNY)"),
    "labour_cost": ("人力成本(元)", "Labour cost (CNY)"),
    "cost_category": ("成本类别", "Cost category"),
    "tier_intervention": ("分层干预", "Tier intervention"),
    "admin_labour": ("管理员人力", "Admin labour"),
    "automation_tools": ("自动化工具", "Automation tools"),
    "acquisition": ("拉新获客", "Acquisition"),
    "risk_control": ("风险控制", "Risk control"),
    # --- members and admins
    "members": ("群成员数", "Members"),
    "new_members": ("新入群人数", "New members"),
    "exits": ("退群人数", "Exits"),
    "exit_rate": ("退群率", "Exit rate"),
    "group_size": ("群规模(人)", "Group size (members)"),
    "admins": ("管理员人数", "Admins"),
    "admins_needed": ("所需管理员", "Admins needed"),
    "admin_wait_minutes": ("管理员等待时长(分钟)", "Admin wait (minutes)"),
    "response_time": ("响应时间(分钟)", "Response time (minutes)"),
    "bot": ("机器人", "Bot"),
    "human_admin": ("人工管理员", "Human admin"),
    "automation_level": ("自动化程度", "Automation level"),
    "reach_accuracy": ("触达准确率", "Reach accuracy"),
    "aversion": ("用户反感度", "Member aversion"),
    "questions": ("提问数", "Questions"),
    "messages": ("发言数", "Messages"),
    # --- time
    "day": ("天数", "Day"),
    "date": ("日期", "Date"),
    "week": ("周", "Week"),
    "month": ("月", "Month"),
    "hour": ("小时", "Hour"),
    "weekday": ("星期", "Weekday"),
    "monday": ("周一", "Mon"),
    "tuesday": ("周二", "Tue"),
    "wednesday": ("周三", "Wed"),
    "thursday": ("周四", "Thu"),
    "friday": ("周五", "Fri"),
    "saturday": ("周六", "Sat"),
    "sunday": ("周日", "Sun"),
    # --- generic table and plot words
    "scenario": ("情景", "Scenario"),
    "replication": ("重复实验", "Replication"),
    "count": ("数量", "Count"),
    "share": ("占比", "Share"),
    "rate": ("比率", "Rate"),
    "mean": ("均值", "Mean"),
    "low": ("下限", "Low"),
    "high": ("上限", "High"),
    "rank": ("排名", "Rank"),
    "recommendation": ("推荐方案", "Recommendation"),
    "simulated": ("模拟数据", "Simulated"),
    "real_data": ("真实数据", "Real data"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "total": ("合计", "Total"),
    # --- monitoring dashboard and risk control (notebooks 04, 07)
    "dimension": ("监测维度", "Dimension"),
    "direction": ("优化方向", "Direction"),
    "dim_activity": ("活跃度", "Activity"),
    "dim_stickiness": ("粘性", "Stickiness"),
    "dim_conversion": ("转化力", "Conversion"),
    "dim_spread": ("传播性", "Spread"),
    "dir_topics": ("增加话题互动", "More discussion topics"),
    "dir_timeliness": ("优化内容时效性", "Timelier content"),
    "dir_incentives": ("强化利益驱动", "Stronger incentives"),
    "dir_fission": ("设计裂变机制", "Referral (fission) mechanics"),
    "dashboard": ("数据看板", "Dashboard"),
    "alert_day": ("预警日", "Alert day"),
    "alert_share": ("预警天数占比", "Share of days in alert"),
    "verdict": ("判定", "Verdict"),
    "pass": ("达标", "Pass"),
    "fail": ("未达标", "Fail"),
    "uncertain": ("不确定", "Uncertain"),
    "within_patience": ("耐心时限内答复占比", "Answered within patience"),
    "mean_response_minutes": ("平均响应时间(分钟)", "Mean response (minutes)"),
    "p90_response_minutes": ("90分位响应时间(分钟)", "90th-percentile response (minutes)"),
    "mean_response_in_shift_minutes": ("班内平均响应(分钟)", "Mean in-shift response (minutes)"),
    "complaints_per_100_members_month": ("投诉数(每百人每月)", "Complaints per 100 members per month"),
    "exits_per_100_members_month": ("退群数(每百人每月)", "Exits per 100 members per month"),
    "admin_utilization": ("管理员忙碌率", "Admin utilization"),
    "questions_per_day": ("日均提问数", "Questions per day"),
    "question_rate_multiplier": ("提问率倍数", "Question-rate multiplier"),
    "answer_minutes": ("单题处理时长(分钟)", "Handling time per question (minutes)"),
    "admin_staffing": ("群规模与管理员配置", "Group size and admin staffing"),
    "admins_needed_analytic": ("所需管理员(排队近似)", "Admins needed (queue approximation)"),
    "speaker_share": ("发言成员占比", "Share of members who spoke"),
    "measure": ("防控措施", "Measures"),
    "response": ("响应时效", "Response"),
    "effect": ("处置效果", "Effect"),
    "major_per_year": ("年均重大危机", "Major crises per year"),
    "exits_per_year": ("年均事件致退群", "Exits per year caused by incidents"),
    "incident_exits": ("事件致退群人数", "Exits caused by incidents"),
    "controls_on": ("有防控", "Controls on"),
    "controls_off": ("无防控", "Controls off"),
    "warning_on": ("三级预警", "Three-level warning"),
    "warning_off": ("无预警", "No warning system"),
    "analytic": ("解析期望", "Analytic expectation"),
    "article_claim": ("原文数值", "Article's figure"),
    "confusion_matrix": ("混淆矩阵", "Confusion matrix"),
    "actual_label": ("真实标签", "Actual label"),
    "filter_decision": ("过滤结果", "Filter decision"),
    "sensitive": ("敏感", "Sensitive"),
    "harmless": ("正常", "Harmless"),
    "not_flagged": ("未拦截", "Not flagged"),
    "lexicon_version": ("词库版本", "Lexicon version"),
    "lexicon_shipped": ("原始词库", "Shipped lexicon"),
    "lexicon_evasion": ("+变体拼写", "+ evasion spellings"),
    "lexicon_full": ("+变体+缺词", "+ evasions + missing words"),
    "metric": ("指标", "Metric"),
    # --- content operations and monetization (notebooks 02, 06)
    "untimed_calendar": ("随意时段日历", "Untimed calendar"),
    "best_slot_calendar": ("最佳时段日历", "Best-slot calendar"),
    "content_optimized": ("内容优化", "Content-optimized"),
    "content_quality": ("内容质量", "Content quality"),
    "dwell_per_open": ("单次阅读停留(分钟)", "Dwell per open (minutes)"),
    "dwell_per_member_day": ("人均日阅读时长(分钟)", "Reading minutes per member per day"),
    "open_rate_heatmap": ("打开率：内容类型 × 发布时段", "Open rate by content type × slot"),
    "interaction_rate_heatmap": (
        "互动转化率：内容类型 × 发布时段", "Interaction rate by content type × slot"
    ),
    "calibration_best_slot": ("最佳时段打开率：模拟 vs 原文表2", "Best-slot open rate: simulated vs table 2"),
    "calendar_comparison": ("内容日历对比(相对随意时段)", "Content calendars vs the untimed calendar"),
    "quality_dwell": ("内容质量与阅读停留", "Content quality and dwell time"),
    "quality_share": ("内容质量与分享率", "Content quality and share rate"),
    "messages_by_hour_weekday": ("各星期×小时的日均发言量", "Messages per day by weekday × hour"),
    "replies_by_hour": ("各小时发言与回复(引用)数", "Messages and replies (quotes) by hour"),
    "replies": ("回复数", "Replies"),
    "source": ("来源", "Source"),
    "mode_comparison": ("各变现方式单独运行(同为15%占比)", "Each mode alone at the 15% share"),
    "share_sweep_revenue": ("商业信息占比与收入、利润", "Commercial share vs revenue and profit"),
    "share_sweep_exits": ("商业信息占比与退群、留存", "Commercial share vs exits and retention"),
    "realised_share": ("实际商业信息占比", "Realised commercial share"),
    "commercial_revenue": ("商业信息带来的收入(元)", "Revenue from commercial posts (CNY)"),
    "holdout_check": ("CDNOW验证期：预测 vs 实际购买", "CDNOW holdout: predicted vs actual purchases"),
    "purchases_per_customer": ("人均购买次数", "Purchases per customer"),
    "final_members": ("期末群成员数", "Members at the end"),
    # --- notebooks 01 (tiering) and 08 (cross-platform)
    "criterion": ("判定标准", "Criterion"),
    "strategy": ("运营策略", "Strategy"),
    "tier_target": ("转化目标", "Conversion target"),
    "rule_on_log": ("日志规则计算", "Rules on the log"),
    "engine": ("模拟引擎", "Simulation engine"),
    "tier_counts_check": ("层级人数：日志规则 vs 模拟引擎", "Tier counts: rules on the log vs. engine"),
    "tier_transition_weekly": ("周度层级转移矩阵", "Weekly tier transitions"),
    "from_tier": ("本周层级", "Tier this week"),
    "to_tier": ("一周后层级", "Tier a week later"),
    "tiered_vs_untiered": ("分层 vs 不分层", "Tiered vs. untiered"),
    "activation_rate": ("新人激活率", "Activation rate"),
    "silent_recall_rate": ("沉默召回率", "Silent recall rate"),
    "loyal_repurchase_rate": ("忠诚用户复购率", "Loyal repurchase rate"),
    "active_contribution": ("活跃用户周互动次数", "Interactions per active member-week"),
    "tier_targets": ("分层转化目标", "Tier targets"),
    "what_if": ("假设情景", "What-if"),
    "effect_scale": ("干预效果倍数", "Intervention effect ×"),
    "net_value": ("净价值(元)", "Net value (CNY)"),
    "net_value_per_member": ("人均净价值(元)", "Net value per member (CNY)"),
    "ranking_value": ("排序值:社区净价值+剩余价值(元)", "Ranking value: net + residual value (CNY)"),
    "residual_value": ("期末成员剩余价值(元)", "Residual value of remaining members (CNY)"),
    "members_end": ("期末成员数", "Members at the end"),
    "groups": ("群数", "Groups"),
    "newcomers_lost": ("流失的新成员(群满)", "Newcomers lost (groups full)"),
    "tier_cost": ("分层干预成本(元)", "Tier intervention cost (CNY)"),
    "reach": ("曝光", "Reach"),
    "clicks": ("点击", "Clicks"),
    "joins": ("入群", "Joins"),
    "per_day": ("每日人数", "Per day"),
    "expected": ("理论值", "Expected"),
    "channel_funnel": ("渠道漏斗", "Channel funnel"),
    "joins_by_channel": ("各渠道入群人数", "Joins by channel"),
    "acq_cost_per_join": ("每入群成员获客成本(元)", "Acquisition cost per join (CNY)"),
    "acq_cost_per_retained": ("每留存成员获客成本(元)", "Acquisition cost per retained member (CNY)"),
    "exits_per_member_month": ("每成员月退群率", "Exits per member-month"),
    "revenue_per_member_month": ("每成员月收入 (¥)", "Revenue per member-month (¥)"),
    "messages_per_member_month": ("每成员月发言数", "Messages per member-month"),
    "douyin_share": ("抖音预算占比", "Douyin budget share"),
    "budget_scale": ("投放预算倍数", "Ad budget ×"),
    "ltv_vs_overlap": ("跨平台重叠度与LTV", "LTV vs. cross-platform overlap"),
    "ltv_ratio": ("LTV倍数(相对无重叠)", "LTV ratio vs. no overlap"),
    "formula": ("理论公式", "Formula"),
    "retention_by_channel": ("各渠道30日留存率", "30-day retention by channel"),
    "value_by_channel": ("各渠道人均收入(元)", "Revenue per member by channel (CNY)"),
    "net_value_by_mix": ("渠道结构与净价值", "Net value by channel mix"),
    "wake_every_10": ("唤醒改为每10天", "Wake-up every 10 days"),
    "silent_after_10": ("沉默阈值10天", "Silent after 10 days"),
    "double_welcome": ("欢迎福利加倍", "Double welcome perk"),
    "simulated_joins": ("模拟入群", "Simulated joins"),
    # --- activity design and automation tools (notebooks 03, 05)
    "roi_article": ("原文ROI(表3)", "Article ROI (table 3)"),
    "roi_simulated": ("模拟ROI", "Simulated ROI"),
    "roi_by_type": ("各类活动ROI：原文表3 vs 模拟", "ROI by activity type: table 3 vs simulation"),
    "participation_by_type": ("各类活动参与率", "Participation rate by activity type"),
    "participants_per_seed": ("每个种子带来的参与者(含自身)", "Participants per seed (incl. the seed)"),
    "reproduction_number": ("再生数R", "Reproduction number R"),
    "invites_mean": ("人均邀请数", "Invitations per participant"),
    "fission_check": ("裂变：模拟 vs 分支过程", "Fission: simulation vs branching process"),
    "referral_joins": ("邀请入群人数", "Referral joins"),
    "overflow": ("满员未能入群人数", "Turned away (group full)"),
    "admitted_share": ("受邀者实际入群比例", "Share of accepted invitees admitted"),
    "group_cap_check": ("群满员与裂变", "Group cap and referral fission"),
    "revenue_per_yuan": ("每元投入带来的收入", "Revenue per CNY spent"),
    "budget_plan": ("预算方案", "Budget plan"),
    "budget_plans": ("活动预算方案对比(相对当前排期)", "Activity budget plans vs the current schedule"),
    "net_value_diff": ("净价值差(元)", "Net value difference (CNY)"),
    "plan_current": ("当前排期", "Current schedule"),
    "plan_greedy_sim": ("按模拟ROI贪心分配", "Greedy on simulated ROI"),
    "plan_greedy_article": ("按原文ROI贪心分配", "Greedy on article ROI"),
    "plan_one_each": ("四类各一次/月", "One of each per month"),
    "plan_best_only": ("全投最高ROI类型", "All on the best type"),
    "labour_tool_cost": ("人力+工具成本(元)", "Labour + tool cost (CNY)"),
    "automation_sweep_service": ("自动化程度与响应时间", "Automation level vs response time"),
    "automation_sweep_value": ("自动化程度与成本、净价值", "Automation level vs cost and net value"),
    "automation_sweep_exits": ("自动化程度与退群", "Automation level vs exits"),
    "queue_check": ("管理员排队：模拟 vs M/M/c(Erlang C)", "Admin queue: simulation vs M/M/c (Erlang C)"),
    "erlang_c": ("Erlang C 理论值", "Erlang C"),
    "mean_wait_minutes": ("平均排队时长(分钟)", "Mean wait (minutes)"),
    "exits_per_member_year": ("每成员年退群率", "Exits per member-year"),
    "group_cap": ("群人数上限", "Group cap"),
    "plan_spend": ("每月活动花费(元)", "Activity spend per month (CNY)"),
    # --- notebooks 05–08: value decomposition, assumptions, sensitivity
    "parameter": ("参数", "Parameter"),
    "model_use": ("模型中的用法", "How the model uses it"),
    "value_component": ("价值构成", "Part of the value"),
    "incidents_per_group_year": ("每群每年事件数", "Incidents per group-year"),
    "major_per_group_year": ("每群每年重大危机", "Major crises per group-year"),
    "drivers": ("背后的假设参数", "Assumptions behind it"),
    "share_sweep_value": ("商业信息占比与社群价值", "Commercial share vs community value"),
    "automation_sweep_ranking": ("自动化程度与社群价值", "Automation level vs community value"),
    # --- notebooks 01–04: the community, labels-only tiering, calendars, staffing
    "overflow_new_group": ("满员时进入新开的群", "a full group sends newcomers to a new group"),
    "overflow_waitlist": ("满员时排队等空位", "a full group puts newcomers on a waitlist"),
    "overflow_lost": ("满员时新成员流失", "a full group turns newcomers away"),
    "labels_only": ("只贴标签(干预无效)", "Labels only (no effect)"),
    "tier_value": ("分层与社群价值(净+剩余)", "Tiering and community value (net + residual)"),
    "scenario_calendar": ("本情景日历", "Scenario's calendar"),
    "community_size": ("社群人数(四类各一次/月)", "Community members (one of each a month)"),
    "complaints": ("投诉次数", "Complaints"),
    # --- the comparative report's plots
    "title_kpi_bars": ("各方案关键指标(均值与95%区间)", "KPIs by scenario (mean and 95% interval)"),
    "title_tier_mix": ("分层结构随时间变化", "Tier mix over time"),
    "title_frontier": ("人均收入与退群人数:帕累托前沿", "Revenue per member vs. exits: Pareto frontier"),
    "pareto_efficient": ("帕累托有效", "Pareto-efficient"),
    "dominated": ("被占优", "Dominated"),
    # --- the article's claims (simlib.claims) and the provenance marks (simlib.provenance)
    "claims_check": ("原文主张核对", "The article's claims checked"),
    "claim": ("原文主张", "Claim"),
    "section": ("章节", "Section"),
    "claim_kind": ("主张类型", "Kind of claim"),
    "article_figure": ("原文数字", "The article's figure"),
    "explanation": ("说明", "Explanation"),
    "kind_test": ("模拟检验", "Tested by simulation"),
    "kind_input": ("模型输入", "Model input"),
    "kind_calibrated": ("按主张校准", "Calibrated to the claim"),
    "kind_untestable": ("无法检验", "Untestable"),
    "verdict_reproduced": ("已复现", "Reproduced"),
    "verdict_not_reproduced": ("未复现", "Not reproduced"),
    "verdict_inconclusive": ("无法判断", "Inconclusive"),
    "verdict_echo_input": ("回声（输入）", "Echo (an input)"),
    "verdict_echo_calibrated": ("回声（校准）", "Echo (calibrated)"),
    "verdict_untestable": ("无法检验", "Untestable"),
    "verdict_not_measured": ("未测量", "Not measured"),
    "mark_assumption": ("假设：原文没有这个数值，由模型设定（理由见 params/defaults.yaml）",
                        "Assumption: not in the article, set for the model (reason in params/defaults.yaml)"),
    "mark_calibrated": ("校准：为使原文某一主张成立而选定；模拟复现该主张只是回声，不是证据",
                        "Calibrated: chosen so one of the article's claims holds; reproducing it is an echo, "
                        "not evidence"),
}

LABELS: dict[str, dict[str, str]] = {key: {"zh": zh, "en": en} for key, (zh, en) in _ENTRIES.items()}

WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {list(LANGS)}")
    return lang


def label(key: str, lang: str = "zh") -> str:
    """The label of ``key`` in ``lang`` ("zh" or "en")."""
    _check_lang(lang)
    try:
        return LABELS[key][lang]
    except KeyError:
        near = difflib.get_close_matches(str(key), LABELS, n=5, cutoff=0.5)
        hint = f"; did you mean {near}?" if near else f"; see the {len(LABELS)} keys of simlib.labels.LABELS"
        raise KeyError(f"no label for key {key!r}{hint}") from None


def has_label(key: object) -> bool:
    return isinstance(key, str) and key in LABELS


def display(value: object, lang: str = "zh") -> str:
    """The label of ``value`` if it is a catalog key (a tier, a KPI …), else ``str(value)``."""
    return label(value, lang) if has_label(value) else str(value)


def weekday_label(index: int, lang: str = "zh") -> str:
    """Weekday name for ``index`` 0 = Monday … 6 = Sunday (pandas' ``day_of_week``)."""
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index <= 6:
        raise ValueError(f"index={index!r}: expected a weekday number 0 (Monday) to 6 (Sunday)")
    return label(WEEKDAY_KEYS[int(index)], lang)


# --------------------------------------------------------------------------- the report's prose

REPORT_TEXTS_FILE = "data/report_texts.yaml"  # in the simlib package


@functools.cache  # read once per process, when the report first asks
def report_texts() -> dict[str, dict[str, str]]:
    """The report's sentences and table headers (``column_*``), ``{key: {"zh": …, "en": …}}``.

    Each is an HTML template whose ``{fields}`` the report fills in with escaped values.
    """
    return zh_en_catalog(REPORT_TEXTS_FILE)


def zh_en_catalog(relative: str) -> dict[str, dict[str, str]]:
    """A flat catalog of texts shipped in the package, ``{key: {"zh": …, "en": …}}`` (the report's,
    the strategy lab's), checked: every entry must hold exactly a zh and an en text."""
    texts = load_package_data(relative)
    if not isinstance(texts, dict):
        raise ValueError(f"simlib/{relative}: expected a mapping of keys to zh and en texts")
    malformed = [key for key, entry in texts.items()
                 if not (isinstance(entry, dict) and set(entry) == set(LANGS)
                         and all(isinstance(text, str) for text in entry.values()))]
    if malformed:
        raise ValueError(f"simlib/{relative}: entries {malformed}: expected a zh and an en text each")
    return texts


def report_text(key: str, lang: str = "zh") -> str:
    """The report's template ``key`` in ``lang`` ("zh" or "en")."""
    return report_texts()[key][_check_lang(lang)]
